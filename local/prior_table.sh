#!/usr/bin/env bash
# Does the teacher's prior help? Students with each prior x several seeds, one experiment dir per run.
#   local/prior_table.sh [--teacher-exp exp/demo_rescnn] [--student-config conf/prior_student.yaml]
#       [--priors "none gradient ig shuffled"] [--seeds "1 2 3" | auto] [--table exp/prior_table] [--oracle-band 2000-3000]
#       [--primaries "gradient:none ig:none gradient:shuffled"] [--detect 0.4] [--pilot-seeds "1 2 3"] [--max-seeds 20]
#       [--jobs 2] [--gpus 0,1]
# Stages:
#   1  the teacher's frequency weights each prior needs (./b_extract.sh, skipped where they exist)
#   2  priors and one student YAML per (prior, seed): python -m steps.prior_runs -> <table>/{priors,conf,runs.tsv}
#   3  every run: ./c_train.sh stages 1-3 into <table>/runs/<prior>_s<seed>; a run with its test scores
#      (scores/<test-set>_trials.score) is skipped, a killed one resumes from its last checkpoint, so the table can be built
#      across several sittings
#      --jobs J runs J of them side by side (cores / J threads each; each run's output goes to
#      <table>/log/<run>.log), and prints after every run the runs done, the runs left and the estimated time left
#   4  the table: python -m steps.prior_table -> <table>/results.{md,csv}, comparisons.csv, runs.csv, plots/;
#      it prints, per primary, the seeds needed to detect --detect points of EER at 80 % power
# --seeds auto: stages 2-4 with --pilot-seeds first (the pilot), then rounds in which each prior is trained
# on seeds 1..N, N the most its primaries need by the paired sd so far (at most --max-seeds; stage 4 writes
# <table>/seeds_per_prior). The sd is re-estimated after each round; the rounds end when one asks for no
# new run (at most 3 rounds). A prior whose comparisons already have the power gets no more seeds.
# Finished runs are reused; a table that has seeds_per_prior resumes from it without a new pilot.
# The primaries are declared in stage 2, before any run, and a table refuses other primaries later.
# Priors: none mel ig eg gradient ig_smooth ig_learn vox1_clean shuffled ig_shuffled oracle (steps/prior_runs.py).
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1                    # first stage to run
stop_stage=4               # last stage to run
teacher_exp=exp/demo_rescnn  # the teacher whose weights are the priors
student_config=conf/prior_student.yaml  # the student experiment YAML every prior is trained with
priors=""                  # priors to train; empty: steps/prior_runs.py's default, the primaries' priors
                           # (none gradient ig shuffled); python -m steps.prior_runs --help lists them all
seeds="1 2 3"              # student seeds (train.seed), or auto (pilot, then as many as the power asks)
primaries="gradient:none ig:none gradient:shuffled"  # pre-declared comparisons (Holm over these)
detect=0.4                 # EER points the seeds are planned to detect at 80 % power
pilot_seeds="1 2 3"        # --seeds auto: the pilot
max_seeds=20               # --seeds auto: at most this many seeds per prior
table=""                   # default exp/prior_table_<teacher exp name>
oracle_band=""             # LO-HI Hz of a planted band (the 'oracle' prior)
data=data/synth            # data root holding the test data dir
test_set=test              # test data dir under --data
nj=2                       # embedding jobs per run
threads=""                 # threads per job (torch, BLAS); empty: cores / the jobs side by side
n_boot=1000                # speaker-bootstrap resamples of the paired differences
jobs=1                     # stage 3: runs side by side (2 on a 2-core CPU: one thread each)
gpus=""                    # e.g. 0,1: train on CUDA; --jobs 1 gives each run all of them (DDP), --jobs J gives
                           # run worker w the GPU w mod n; stage 1's weights use them too. Empty: CPU
help_message="Usage: $0 [options]   (see the header of $0)"
. utils/parse_options.sh

table=${table:-exp/prior_table_$(basename "$teacher_exp")}
case "$jobs" in *[!0-9]*|""|0*) echo "$0: --jobs expects a positive integer, got '$jobs'" >&2; exit 1 ;; esac
case "$gpus" in *[!0-9,]*|,*|*,|*,,*) echo "$0: --gpus expects GPU numbers separated by commas (0,1), got '$gpus'" >&2; exit 1 ;; esac
run_threads=$threads  # threads per run: --threads, or with --jobs > 1 the cores / --jobs (c_train.sh's own rule when 1)
[ -z "$threads" ] && [ "$jobs" -gt 1 ] && run_threads=$(gfa_threads "$jobs" "" && echo "$OMP_NUM_THREADS")
run_nj=$(( nj / jobs > 0 ? nj / jobs : 1 ))  # embedding jobs per run, so that the runs side by side share --nj
band_opt=()
[ -n "$oracle_band" ] && band_opt=(--oracle-band "$oracle_band")

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: teacher weights for priors: ${priors:-the default}"
  methods=$(python -m steps.prior_runs --methods-for "$priors")  # the prior -> method map is Python's
  for m in $methods; do
    [ -f "$teacher_exp/gradients/$m/freq_weights.npy" ] && continue
    ./b_extract.sh --teacher-exp "$teacher_exp" --method "$m" --nj "$nj" --threads "$threads" --gpus "$gpus"
  done
fi

runs_done() {  # runs of runs.tsv with their test scores
  local run n=0
  while IFS=$'\t' read -r run _; do
    [ -f "$table/runs/$run/scores/${test_set}_trials.score" ] && n=$((n + 1))
  done < "$table/runs.tsv"
  echo "$n"
}

progress() {  # after a run: done, left and the time left at this sitting's rate
  local d left el eta="unknown"
  d=$(runs_done) left=$((n_runs - d)) el=$(( $(date +%s) - t0 ))
  [ "$d" -gt "$done0" ] && eta="$(( el * left / (d - done0) / 60 )) min"
  log "Stage 3: $d/$n_runs runs done, $left left, about $eta left ($((el / 60)) min so far)"
}

worker_gpus() {  # <worker>: the GPUs its runs train on: all of --gpus with --jobs 1, else GPU worker mod n
  [ -z "$gpus" ] || [ "$jobs" -eq 1 ] && { echo "$gpus"; return; }
  local list
  IFS=, read -r -a list <<< "$gpus"
  echo "${list[$(($1 % ${#list[@]}))]}"
}

train_run() {  # <run> <worker>: c_train.sh stages 1-3 of one student
  ./c_train.sh --data "$data" --test-set "$test_set" --config "$table/conf/$1.yaml" --exp-dir "$table/runs/$1" \
    --nj "$run_nj" --threads "$run_threads" --gpus "$(worker_gpus "$2")" --test-while-training false --stage 1 --stop-stage 3
}

run_worker() {  # <worker>: the runs i of runs.tsv with i % jobs == worker, one after another
  local w=$1 i=0 run prior seed
  while IFS=$'\t' read -r run prior seed; do
    i=$((i + 1))
    [ $(((i - 1) % jobs)) -eq "$w" ] || continue
    if [ -f "$table/runs/$run/scores/${test_set}_trials.score" ]; then
      log "Stage 3: run $i/$n_runs $run: finished, skipped"
      continue
    fi
    if [ "$jobs" -eq 1 ]; then
      log "Stage 3: run $i/$n_runs $run (prior $prior, seed $seed)"
      train_run "$run" "$w" < /dev/null
    else
      mkdir -p "$table/log"
      log "Stage 3: run $i/$n_runs $run (prior $prior, seed $seed; output: $table/log/$run.log)"
      train_run "$run" "$w" < /dev/null >> "$table/log/$run.log" 2>&1
    fi
    progress
  done < "$table/runs.tsv"
}

run_table() {  # stages 2-4 for one seed list [and the seeds per prior, PRIOR:N ...]
  local seeds=$1 per_prior=${2:-}
  if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    log "Stage 2: priors, student configs and the declared comparisons -> $table (seeds ${per_prior:+per prior $per_prior, others }$seeds)"
    python -m steps.prior_runs --teacher-exp "$teacher_exp" --student-config "$student_config" --out "$table" \
      ${priors:+--priors "$priors"} --seeds "$seeds" --seeds-per-prior "$per_prior" --max-seeds "$max_seeds" \
      --primaries "$primaries" --detect "$detect" ${band_opt[@]+"${band_opt[@]}"}
  fi
  if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    [ -f "$table/runs.tsv" ] || { echo "$0: $table/runs.tsv missing; run stage 2 first" >&2; exit 1; }
    local w pids=() failed=0
    t0=$(date +%s) n_runs=$(grep -c . "$table/runs.tsv") done0=$(runs_done)
    log "Stage 3: $n_runs runs, $done0 finished before, $jobs side by side"
    if [ "$jobs" -eq 1 ]; then run_worker 0; else
      for ((w = 0; w < jobs; w++)); do run_worker "$w" & pids+=($!); done
      for w in "${pids[@]}"; do wait "$w" || failed=1; done
      [ "$failed" -eq 0 ] || { echo "$0: a run failed; its log is in $table/log/ (rerun to resume)" >&2; exit 1; }
    fi
  fi
  if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
    log "Stage 4: the table -> $table/results.md"
    python -m steps.prior_table --table "$table" --teacher-exp "$teacher_exp" --test-dir "$data/$test_set" \
      --n-boot "$n_boot"
    cat "$table/results.md"
  fi
}

if [ "$seeds" != auto ]; then
  run_table "$seeds"
else
  if [ -f "$table/seeds_per_prior" ] && [ -f "$table/runs.tsv" ]; then
    log "Resuming from $table/seeds_per_prior (the last round's power analysis); no new pilot"
  else
    log "Pilot: seeds $pilot_seeds"
    run_table "$pilot_seeds"
  fi
  last=""
  for round in 1 2 3; do  # the paired sd is re-estimated after each round
    spec=$(cat "$table/seeds_per_prior")
    if [ "$spec" = "$last" ]; then break; fi
    log "Round $round: seeds per prior $spec (at most $max_seeds; finished runs are reused)"
    run_table "$pilot_seeds" "$spec"
    last=$spec
  done
fi

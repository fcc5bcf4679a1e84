#!/usr/bin/env bash
# The whole gfa-sv recipe in run order on the synthetic demo corpus (or your own data root).
#   ./run.sh [--stage N] [--stop-stage N] [--data data/synth] [--preset demo] [--nj 2]
#   ./run.sh --full-table true        # stage 5 with every prior x 3 seeds (the whole prior experiment)
#   ./run.sh --planted-band 2000-3000 # the corpus whose speakers differ only in 2-3 kHz (data/planted,
#                                     # exp/<config stem>_planted); stage 5 adds the oracle prior
# Stages:
#   0  generate the synthetic speaker corpus (train/test data dirs + trials)
#   1  validate the data dirs (utils/validate_data_dir.sh --no-feats)
#   2  ./a_prep_egs.sh: 161-dim spectrograms, fix/validate, in-domain trials, trials dir, egs
#   3  ./c_train.sh stages 1-3: train the teacher (conf/demo_rescnn.yaml), embed, score the test trials
#   4  ./b_extract.sh: the teacher's Integrated-Gradients frequency weights + plots
#   5  local/prior_table.sh: half-width students (conf/prior_student.yaml) with each prior of
#      --table-priors (default: ig = the teacher's IG weights; none = no attention) x --table-seeds,
#      each trained, embedded and scored; prints the table (teacher row included)
#   6  python -m steps.compare: the teacher and the stage-5 students side by side (DET curves, weights
#      and learned gains, table in <teacher's parent>/compare_<teacher>/results.md), printed at the end
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=0                    # first stage to run (see the header)
stop_stage=100             # last stage to run
data=data/synth        # data root: holds train/ and test/ data dirs
preset=demo            # synthetic corpus size: tiny | demo | experiment (demo + 200 test speakers)
seed=777                   # synthetic corpus seed
nj=2                       # parallel jobs of every stage
threads=""                 # threads per job (torch, BLAS); empty: cores / the jobs side by side
gpus=""                    # e.g. 0,1: train and extract on these GPUs (c_train.sh, b_extract.sh, stage 5); empty: CPU
config=conf/demo_rescnn.yaml   # the teacher experiment
exp_dir=""                     # default exp/<config stem>
method=integrated_gradients    # saliency method of the weights (stage 4)
ig_steps=20                    # stage 4: IG integration points (Gauss-Legendre). Measured on a demo teacher:
                               # the weights at 20 and at the registry's 50 correlate 0.999995, differ by at
                               # most 0.3 % of the peak, same peak bin; 74 s against 132 s. Empty: 50
student_config=conf/prior_student.yaml   # stage 5: the student experiment every prior is trained with
table_priors="ig"              # stage 5: priors (steps/prior_runs.py lists them all); one converged student
                               # fits the 15-minute demo; none vs ig needs seeds: --full-table true
table_seeds=1                  # stage 5: student seeds
table_jobs=1                   # stage 5: student runs side by side (2 on 2 cores: one thread each)
full_table=false               # true: every prior x seeds 1 2 3 (finished runs are reused)
table=""                       # default exp/prior_table_<teacher exp name>
planted_band=""                # e.g. 2000-3000: speakers differ only in this band (Hz)
help_message="Usage: $0 [options]   (runs the recipe stages in order)"
. utils/parse_options.sh

band_opt=()
if [ -n "$planted_band" ]; then
  [ "$data" = data/synth ] && data=data/planted
  exp_dir=${exp_dir:-exp/$(basename "$config" .yaml)_planted}
  band_opt=(--planted-band "$planted_band")
  log "planted band $planted_band Hz: corpus $data, teacher $exp_dir"
fi
if [ "$full_table" = true ]; then
  table_priors="none gradient ig shuffled mel eg ig_smooth ig_learn vox1_clean"
  [ -n "$planted_band" ] && table_priors="none gradient ig shuffled oracle"
  table_seeds="1 2 3"
fi

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "Stage 0: synthetic corpus ($preset, seed $seed) -> $data"
  python -m steps.make_synthetic --preset "$preset" --seed "$seed" --nj "$nj" ${band_opt[@]+"${band_opt[@]}"} "$data"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: validate data dirs"
  for part in train test; do
    utils/validate_data_dir.sh --no-feats "$data/$part"
  done
fi
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: a_prep_egs.sh (features, trials, egs)"
  ./a_prep_egs.sh --data "$data" --nj "$nj" --threads "$threads"
fi
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: c_train.sh (teacher: train, embeddings, scoring)"
  ./c_train.sh --data "$data" --config "$config" --exp-dir "$exp_dir" --stage 1 --stop-stage 3 --nj "$nj" --threads "$threads" --gpus "$gpus" \
    --test-while-training false  # c_train.sh stage 3 scores the test trials; no second scoring inside training
fi
teacher=${exp_dir:-exp/$(basename "$config" .yaml)}
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: b_extract.sh ($method weights of $teacher)"
  steps_opt=()
  [[ -n "$ig_steps" && $method == integrated_gradients* ]] && steps_opt=(--steps "$ig_steps")
  ./b_extract.sh --data "$data" --teacher-exp "$teacher" --method "$method" --nj "$nj" --threads "$threads" --gpus "$gpus" \
    ${steps_opt[@]+"${steps_opt[@]}"}
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "Stage 5: local/prior_table.sh (students: priors $table_priors, seeds $table_seeds)"
  oracle_opt=()
  [ -n "$planted_band" ] && oracle_opt=(--oracle-band "$planted_band")
  local/prior_table.sh --data "$data" --teacher-exp "$teacher" --student-config "$student_config" \
    --priors "$table_priors" --seeds "$table_seeds" --table "${table:-exp/prior_table_$(basename "$teacher")}" \
    --nj "$nj" --threads "$threads" --jobs "$table_jobs" --gpus "$gpus" ${oracle_opt[@]+"${oracle_opt[@]}"}
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  table=${table:-exp/prior_table_$(basename "$teacher")}
  systems=("$teacher")
  for p in $table_priors; do
    for s in $table_seeds; do
      if [ -d "$table/runs/${p}_s$s/scores" ]; then systems+=("$table/runs/${p}_s$s"); fi
    done
  done
  compare=$(dirname "$teacher")/compare_$(basename "$teacher")
  log "Stage 6: comparison of ${#systems[@]} systems -> $compare"
  python -m steps.compare "${systems[@]}" --out "$compare"
fi
log "Done."

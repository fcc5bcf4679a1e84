#!/usr/bin/env bash
# Train, embed, score; then the GFA attention retrain of a student.
#   ./c_train.sh [--stage N] [--stop-stage N] [--config conf/demo_rescnn.yaml] [--gpus 0,1] ...
# Stages:
#   1  train <config> on <data>/egs/<feat-type> (python -m steps.train; torchrun when several
#      processes: --gpus 0,1 or --cpu-procs 2); resumes from exp/<name>/checkpoints/last.pt. With
#      $cuda_cmd (cmd.sh) other than run.pl, e.g. utils/slurm.pl, the job is submitted through it with
#      --gpu <count of --gpus> (docs/cluster.md)
#   2  embeddings of the test set (and of the training set when --asnorm true) through $train_cmd
#   3  score every trials list of <data>/<test-set> (trials, trials_*: e.g. Vox1-O/E/H from
#      prepare_voxceleb): EER, minDCF(0.01, 0.001) -> exp/<name>/{scores/,results.md} (a row per list,
#      replaced on rescoring)
#   4  attention retrain (the student): stages 1-3 (the function train_embed_score) run on --att-config with
#      --prior set to --att-weights (written by ./b_extract.sh); the student's exp stores the prior values
# Everything after stage 1 reads only exp/<name>/ (config, inputs, label index, prior, checkpoints).
# Machine settings are the variables below; hyper-parameters live only in the YAML.
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1                    # first stage to run (see the header)
stop_stage=3               # last stage to run
config=conf/demo_rescnn.yaml  # the experiment YAML (stage 1 trains it)
att_config=conf/demo_rescnn_att.yaml  # stage 4: the student YAML
att_weights=exp/demo_rescnn/gradients/integrated_gradients/freq_weights.npy  # stage 4: the teacher weights given to the student as its prior
exp_dir=""                 # default exp/<config stem>
att_exp_dir=""             # default exp/<att-config stem>
data=data/synth            # data root holding the train and test data dirs
train_set=train            # training data dir under --data
test_set=test              # test data dir under --data (every trials list in it is scored)
feat_type=spect            # feature type of the egs: spect | fbank | mfcc
aug=false                  # true: the egs a_prep_egs.sh --aug true made (clean + augmented)
vad=false                  # true: the egs a_prep_egs.sh --vad true made (voiced frames only)
egs_dir=""                 # default: <data>/egs/<feat-type>[_aug][_vad] from --aug/--vad (gfa_egs_dir in path.sh);
                           # steps.train refuses egs whose feature type is not the config's data.feat_type
prior=""                   # attention prior of the config (mel, vox1_clean, ..., or a weights file); empty: the YAML's
gpus=""                    # e.g. 0,1: CUDA DDP over those GPUs; empty: CPU
cpu_procs=1                # > 1: DDP on CPU (gloo) with that many processes
nnodes=1                   # DDP: number of nodes
node_rank=0                # DDP: this node's rank
master_addr=localhost      # DDP: address of rank 0
master_port=29533          # DDP: port of rank 0
nj=2                       # embedding jobs
threads=""                 # threads per job (torch, BLAS); empty: cores / training processes, cores / nj to embed
num_workers=0              # DataLoader workers per training process (0 is fastest on a 2-core CPU; raise on GPU nodes)
asnorm=false               # also score with adaptive s-norm (cohort: one mean embedding per training speaker)
test_while_training=true   # stage 1 scores the in-domain and test trials every train.test_every epochs (false: only stage 3 scores)
help_message="Usage: $0 [options]"
. utils/parse_options.sh
gfa_threads 1 "$threads"  # checks --threads before any work
gfa_check_cmd "\$train_cmd (cmd.sh)" "$train_cmd"

# set here, not inside train_cmd_for: that runs in a $( ) subshell, whose exports are lost. A cluster's
# scheduler picks the GPUs of a submitted job: there --gpus only counts them
local_cmd() { [[ "${cuda_cmd%% *}" == *run.pl ]]; }
if [ -n "$gpus" ] && local_cmd; then export CUDA_VISIBLE_DEVICES=$gpus; fi

train_procs() {  # training processes: one per GPU of --gpus, else --cpu-procs
  if [ -n "$gpus" ]; then echo "$gpus" | tr ',' '\n' | grep -c .; else echo "$cpu_procs"; fi
}

train_cmd_for() {  # the training launcher for this machine
  local procs device=cpu
  procs=$(train_procs)
  [ -n "$gpus" ] && device=cuda
  if [ "$procs" -gt 1 ] || [ "$nnodes" -gt 1 ]; then
    echo "python -m torch.distributed.run --nnodes $nnodes --node_rank $node_rank --nproc_per_node $procs \
      --master_addr $master_addr --master_port $master_port -m steps.train --device $device"
  else
    echo "python -m steps.train --device $([ -n "$gpus" ] && echo cuda || echo cpu)"
  fi
}

train_job() {  # <exp dir> <command...>: stage 1's training, here or through $cuda_cmd on a cluster
  local exp=$1 ngpu=0
  shift
  if local_cmd; then "$@"; return; fi  # here: its progress reaches the terminal and exp/<name>/log/
  [ -n "$gpus" ] && ngpu=$(train_procs)
  mkdir -p "$exp/log"
  log "Stage 1 goes through \$cuda_cmd: $cuda_cmd --gpu $ngpu (job output: $exp/log/train_job.log)"
  $cuda_cmd --gpu "$ngpu" --num-threads "${OMP_NUM_THREADS:-1}" "$exp/log/train_job.log" "$@"
}

train_embed_score() {  # <config> <exp dir> <prior or empty> <first stage> <last stage>: stages 1-3 of one model
  local config=$1 exp=$2 prior=$3 first=$4 last=$5 s t
  local train_opts=() sets=$test_set lists=()
  [ -n "$prior" ] && train_opts=(--set "model.attention.prior=$prior")
  [ "$test_while_training" = true ] && train_opts+=(--test-dir "$data/$train_set/trials_dir" --test-dir "$data/$test_set")
  if [ "$first" -le 1 ] && [ "$last" -ge 1 ]; then
    gfa_threads "$(train_procs)" "$threads"
    log "Stage 1: train $config -> $exp ($GFA_THREADS_NOTE)"
    train_job "$exp" $(train_cmd_for) --config "$config" --exp-dir "$exp" --egs-dir "${egs_dir:-$(gfa_egs_dir "$data" "$feat_type" "$aug" "$vad")}" \
      ${train_opts[@]+"${train_opts[@]}"} --num-workers "$num_workers"
  fi
  if [ "$first" -le 2 ] && [ "$last" -ge 2 ]; then
    [ "$asnorm" = true ] && sets="$test_set $train_set"
    gfa_threads "$nj" "$threads"
    log "Stage 2: embeddings of $sets ($GFA_THREADS_NOTE)"
    for s in $sets; do
      $train_cmd JOB=1:"$nj" "$exp/log/embed_$s.JOB.log" python -m steps.extract_embeddings --exp-dir "$exp" \
        --data-dir "$data/$s" --job JOB --num-jobs "$nj"
      python -m steps.extract_embeddings --exp-dir "$exp" --set-name "$s" --merge --num-jobs "$nj"
    done
  fi
  if [ "$first" -le 3 ] && [ "$last" -ge 3 ]; then
    for t in "$data/$test_set"/trials "$data/$test_set"/trials_*; do
      [ -f "$t" ] && lists+=("$t")
    done
    [ ${#lists[@]} -gt 0 ] || { echo "$0: no trials list (trials, trials_*) in $data/$test_set" >&2; exit 1; }
    log "Stage 3: score ${#lists[@]} trials list(s) of $data/$test_set: ${lists[*]##*/}"
    for t in "${lists[@]}"; do
      python -m steps.score --exp-dir "$exp" --trials "$t" --embeddings "$test_set"
      if [ "$asnorm" = true ]; then
        python -m steps.score --exp-dir "$exp" --trials "$t" --embeddings "$test_set" --cohort "$train_set" \
          --cohort-utt2spk "$data/$train_set/utt2spk"
      fi
    done
    grep -v "^# " "$exp/results.md"
  fi
}

train_embed_score "$config" "${exp_dir:-exp/$(basename "$config" .yaml)}" "$prior" "$stage" "$stop_stage"

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: attention retrain with $att_config, prior $att_weights (stages 1-3 on the student)"
  [ -f "$att_weights" ] || { echo "$0: no frequency weights at $att_weights; run ./b_extract.sh first" >&2; exit 1; }
  train_embed_score "$att_config" "${att_exp_dir:-exp/$(basename "$att_config" .yaml)}" "$att_weights" 1 3
fi
log "Done."

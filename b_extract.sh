#!/usr/bin/env bash
# Gradient frequency weights of a trained teacher (GFA steps 1-2).
#   ./b_extract.sh [--stage N] [--stop-stage N] [--teacher-exp exp/demo_rescnn] [--method integrated_gradients]
# Stages:
#   1  saliency maps of --utts-per-spk utterances per training speaker (gradients/cam_extract.py),
#      jobs through $train_cmd, merged into exp/<teacher>/gradients/<method>/maps.scp
#   2  maps -> freq_weights.{npy,txt,json} + plots (gradients/visual_gradient.py)
# c_train.sh stage 4 (attention retrain) reads exp/<teacher>/gradients/<method>/freq_weights.npy.
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1
stop_stage=2
teacher_exp=exp/demo_rescnn
method=integrated_gradients   # gradient input_x_gradient integrated_gradients expected_gradients gradient_shap smoothgrad grad_cam grad_cam_pp layer_cam fullgrad
target=cosine                 # cosine (GFA) | softmax | verification
utts_per_spk=1
steps=50
baseline=zero                 # zero | time_mean
n_samples=50                  # expected_gradients / gradient_shap samples
data=data/synth
train_set=train
feat_type=spect
reduction=abs
nj=2
gpus=""                       # e.g. "0,1": job J runs on GPU (J-1) mod n; empty = CPU
internal_batch_size=64        # path points per forward/backward (the memory bound)
seed=123456
help_message="Usage: $0 [options]"
. utils/parse_options.sh

log() { echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
out=$teacher_exp/gradients/$method

device_opts="--device cpu"
[ -n "$gpus" ] && device_opts="--device cuda --gpus $gpus"

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: $method maps ($target target) of $utts_per_spk utterance(s) per speaker of $data/$train_set"
  mkdir -p "$out/log"
  $train_cmd JOB=1:"$nj" "$out/log/cam_extract.JOB.log" python gradients/cam_extract.py --exp-dir "$teacher_exp" \
    --data-dir "$data/$train_set" --label-index "$data/egs/$feat_type/spk2label" --method "$method" \
    --target "$target" --utts-per-spk "$utts_per_spk" --steps "$steps" --baseline "$baseline" \
    --n-samples "$n_samples" --seed "$seed" --internal-batch-size "$internal_batch_size" $device_opts \
    --job JOB --num-jobs "$nj"
  python gradients/cam_extract.py --exp-dir "$teacher_exp" --method "$method" --merge --num-jobs "$nj"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: frequency weights and plots"
  python gradients/visual_gradient.py --exp-dir "$teacher_exp" --method "$method" --reduction "$reduction"
fi
log "Done."

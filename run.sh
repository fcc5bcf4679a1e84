#!/usr/bin/env bash
# The whole gfa-sv recipe in run order on the synthetic demo corpus (or your own data root).
#   ./run.sh [--stage N] [--stop-stage N] [--data data/synth] [--preset demo] [--nj 2]
# Stages so far:
#   0  generate the synthetic speaker corpus (train/test data dirs + trials)
#   1  validate the data dirs (utils/validate_data_dir.sh --no-feats)
#   2  ./a_prep_egs.sh: 161-dim spectrograms, fix/validate, in-domain trials, trials dir, egs
#   3  ./c_train.sh stages 1-3: train the teacher (conf/demo_rescnn.yaml), embed, score the test trials
#   4  ./b_extract.sh: the teacher's Integrated-Gradients frequency weights + plots
#   5  ./c_train.sh stage 4: the attention retrain of a half-width student (conf/demo_rescnn_att.yaml)
#      with those weights as its prior; embed and score it the same way
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=0
stop_stage=100
data=data/synth        # data root: holds train/ and test/ data dirs
preset=demo            # synthetic corpus size: tiny | demo
seed=777
nj=2
config=conf/demo_rescnn.yaml   # the teacher experiment
exp_dir=""                     # default exp/<config stem>
att_config=conf/demo_rescnn_att.yaml   # the student experiment
att_exp_dir=""                 # default exp/<att-config stem>
method=integrated_gradients    # saliency method of the weights
help_message="Usage: $0 [options]   (runs the recipe stages in order)"
. utils/parse_options.sh

log() { echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "Stage 0: synthetic corpus ($preset, seed $seed) -> $data"
  python -m steps.make_synthetic --preset "$preset" --seed "$seed" --nj "$nj" "$data"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: validate data dirs"
  for part in train test; do
    utils/validate_data_dir.sh --no-feats "$data/$part"
  done
fi
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: a_prep_egs.sh (features, trials, egs)"
  ./a_prep_egs.sh --data "$data" --nj "$nj"
fi
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: c_train.sh (teacher: train, embeddings, scoring)"
  ./c_train.sh --data "$data" --config "$config" --exp-dir "$exp_dir" --stage 1 --stop-stage 3
fi
teacher=${exp_dir:-exp/$(basename "$config" .yaml)}
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: b_extract.sh ($method weights of $teacher)"
  ./b_extract.sh --data "$data" --teacher-exp "$teacher" --method "$method" --nj "$nj"
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "Stage 5: c_train.sh stage 4 (attention retrain of $att_config)"
  ./c_train.sh --data "$data" --stage 4 --stop-stage 4 --att-config "$att_config" --att-exp-dir "$att_exp_dir" \
    --att-weights "$teacher/gradients/$method/freq_weights.npy"
fi
log "Done."

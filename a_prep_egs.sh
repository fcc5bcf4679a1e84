#!/usr/bin/env bash
# Data preparation after the data dirs exist: features now; trials and egs come with the next stages.
#   ./a_prep_egs.sh [--stage N] [--stop-stage N] [--data data/synth] [--nj 2] [--feat-type spect]
# Stages:
#   1  features (steps/make_<feat-type>.sh) for <data>/train and <data>/test, jobs through $train_cmd
#   2  utils/fix_data_dir.sh (drops utterances that failed) and utils/validate_data_dir.sh
# A finished stage writes <data>/.a_prep_egs.stage<N>.done; a rerun skips it (remove it to redo).
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1
stop_stage=100
data=data/synth            # data root holding the train/ and test/ data dirs (e.g. data/vox1 with dev/ test/)
parts="train test"         # data dirs under $data to process
feat_type=spect            # spect (161-dim, the paper) | fbank (80) | mfcc (30)
feat_conf=conf/spect_161.conf
nj=2
help_message="Usage: $0 [options]"
. utils/parse_options.sh

log() { echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
done_marker() { echo "$data/.a_prep_egs.stage$1.done"; }
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] && [ ! -f "$(done_marker "$1")" ]; }

if run_stage 1; then
  log "Stage 1: $feat_type features ($feat_conf) for: $parts"
  for part in $parts; do
    "steps/make_${feat_type}.sh" --nj "$nj" --cmd "$train_cmd" --"${feat_type}"-config "$feat_conf" \
      "$data/$part" "$data/$part/log" "$data/$feat_type/$part"
  done
  touch "$(done_marker 1)"
fi

if run_stage 2; then
  log "Stage 2: fix and validate the data dirs"
  for part in $parts; do
    utils/fix_data_dir.sh "$data/$part"
    utils/validate_data_dir.sh "$data/$part"
  done
  touch "$(done_marker 2)"
fi
log "Done."

#!/usr/bin/env bash
# Data preparation after the data dirs exist: features, trials, trials dir, egs.
#   ./a_prep_egs.sh [--stage N] [--stop-stage N] [--data data/synth] [--nj 2] ...
# Stages:
#   1  features (steps/make_<feat-type>.sh) for the train and test dirs, jobs through $train_cmd;
#      with --aug true also <train>_aug (reverb/noise/music/babble copies of every training
#      utterance, recipes applied in-process; MUSAN/RIRS from --musan-root/--rirs-root, or
#      stand-ins generated under <data>/standin when those are empty)
#   2  utils/fix_data_dir.sh (drops utterances that failed) and utils/validate_data_dir.sh; with
#      --aug true, <train>_comb = clean + all augmented copies (utils/combine_data.sh)
#   3  in-domain trials from the training speakers: <train>/trials_2w (datasets/make_trials.py); a test
#      dir without any trials list gets <test>/trials drawn the same way (with a warning)
#   4  compact trials dir: <train>/trials_dir (datasets/split_trials_dir.py)
#   5  egs: <data>/egs/<feat-type>[_aug][_vad]/{train,valid} + spk2label (datasets/make_egs.py), from
#      <train> or, with --aug true, from <train>_comb; with --vad true, energy VAD first
#      (steps/compute_vad_decision.sh on the egs source, the test dir and the trials dir) and egs cut
#      from voiced frames only (train them with data.vad: true in the experiment YAML)
# A finished stage writes <data>/.a_prep_egs.<feat-type>.<options key>.stage<N>.done and a rerun with the
# same options skips it (delete it to redo);
# inside a stage, the feature and egs jobs are resumable too.
# Defaults run the synthetic demo corpus. For VoxCeleb1 dev as in the paper:
#   ./a_prep_egs.sh --data data/vox1 --train-set dev --nj 12 --num-pairs 20000 \
#       --input-per-spks 1024 --num-frames 600
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1                    # first stage to run (see the header)
stop_stage=100             # last stage to run
data=data/synth            # data root holding the train and test data dirs
train_set=train            # training data dir under --data
test_set=test              # test data dir under --data
feat_type=spect            # spect (161-dim, the paper) | fbank (80) | mfcc (30)
feat_conf=""               # default: the conf of --feat-type (conf/spect_161.conf, conf/fbank_80.conf, conf/mfcc_30.conf)
nj=2                       # parallel jobs
threads=""                 # threads per job (torch, BLAS); empty: cores / nj
num_pairs=4000             # in-domain trials (paper: 20000)
input_per_spks=64          # egs per speaker (paper: 1024 VoxCeleb1, 768 VoxCeleb2)
num_frames=400             # eg length in frames (paper: 600); training crops must not exceed it
num_valid=auto             # utterances per speaker held out for validation; auto: 1-2 per speaker of >= 3, at most 10 % (datasets/egs.py)
out_format=kaldi_ref       # kaldi_ref (row ranges of the feature arks: no copy) | kaldi_cmp (self-contained, compressed, as the paper) | kaldi
seed=123456                # trials, validation split and egs sampling
aug=false                  # true: also augmented copies (Kaldi voxceleb/v2 style), egs from clean + aug
musan_root=""              # MUSAN root (noise/ music/ speech/); empty: stand-ins under <data>/standin
rirs_root=""               # the RIRS_NOISES dir; empty: stand-ins under <data>/standin
aug_subset=0               # keep a random subset of this many augmented copies (0: all, as GFA)
vad=false                  # true: energy VAD (conf/vad.conf) and egs of voiced frames only, in <data>/egs/<feat-type>_vad
help_message="Usage: $0 [options]"
. utils/parse_options.sh
gfa_threads "$nj" "$threads"
gfa_check_cmd "\$train_cmd (cmd.sh)" "$train_cmd"

case "$feat_type" in
  spect) feat_conf=${feat_conf:-conf/spect_161.conf} ;;
  fbank) feat_conf=${feat_conf:-conf/fbank_80.conf} ;;
  mfcc) feat_conf=${feat_conf:-conf/mfcc_30.conf} ;;
  *) echo "$0: --feat-type $feat_type: expected spect, fbank or mfcc" >&2; exit 1 ;;
esac
[ -f "$feat_conf" ] || { echo "$0: --feat-conf $feat_conf: no such file" >&2; exit 1; }
# a stage's marker keys on every option that changes its output (the conf by its content), so another
# feature type, conf or egs size on the same --data reruns the stages instead of skipping them
key_1to4="$feat_type $(cksum < "$feat_conf") $aug $aug_subset $musan_root $rirs_root $num_pairs $seed $train_set $test_set"
key_5="$key_1to4 $vad $num_frames $input_per_spks $num_valid $out_format"
done_marker() {
  local key=$key_1to4
  [ "$1" = 5 ] && key=$key_5
  echo "$data/.a_prep_egs.$feat_type.$(printf '%s' "$key" | cksum | cut -d' ' -f1).stage$1.done"
}
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] && [ ! -f "$(done_marker "$1")" ]; }
egs_dir=$(gfa_egs_dir "$data" "$feat_type" "$aug" "$vad")
egs_source=$train_set
[ "$aug" = true ] && egs_source=${train_set}_comb
if [ "$vad" = true ] && [ "$feat_type" = fbank ]; then
  echo "$0: --vad true needs log energy in column 0 (spect or mfcc), not fbank" >&2; exit 1
fi

if run_stage 1; then
  log "Stage 1: $feat_type features ($feat_conf) for $train_set and $test_set ($GFA_THREADS_NOTE)"
  for part in "$train_set" "$test_set"; do
    "steps/make_${feat_type}.sh" --nj "$nj" --cmd "$train_cmd" --"${feat_type}"-config "$feat_conf" \
      "$data/$part" "$data/$part/log" "$data/$feat_type/$part"
  done
  if [ "$aug" = true ]; then
    musan=${musan_root:-$data/standin/musan}
    rirs=${rirs_root:-$data/standin/RIRS_NOISES}
    if [ -z "$musan_root" ] || [ -z "$rirs_root" ]; then
      python -m steps.make_augment_standins --musan "$data/standin/musan" --rirs-parent "$data/standin"
    fi
    python -m steps.augment_data_dir --data-dir "$data/$train_set" --musan "$musan" --rirs "$rirs" \
      --subset "$aug_subset" --seed "$seed"
    "steps/make_${feat_type}.sh" --nj "$nj" --cmd "$train_cmd" --"${feat_type}"-config "$feat_conf" \
      "$data/${train_set}_aug" "$data/${train_set}_aug/log" "$data/$feat_type/${train_set}_aug"
  fi
  touch "$(done_marker 1)"
fi

if run_stage 2; then
  log "Stage 2: fix and validate the data dirs"
  for part in "$train_set" "$test_set" $([ "$aug" = true ] && echo "${train_set}_aug"); do
    utils/fix_data_dir.sh "$data/$part"
    utils/validate_data_dir.sh "$data/$part"
  done
  if [ "$aug" = true ]; then
    utils/combine_data.sh "$data/${train_set}_comb" "$data/$train_set" "$data/${train_set}_aug"
    utils/validate_data_dir.sh "$data/${train_set}_comb"
  fi
  touch "$(done_marker 2)"
fi

if run_stage 3; then
  log "Stage 3: $num_pairs in-domain trials from $train_set"
  python -m steps.make_trials "$num_pairs" "$data/$train_set" --seed "$seed" --avoid-same-recording \
    --out "$data/$train_set/trials_2w"
  has_trials=false
  for t in "$data/$test_set"/trials "$data/$test_set"/trials_*; do
    [ -f "$t" ] && has_trials=true
  done
  if [ "$has_trials" = false ]; then
    log "warning: $data/$test_set has no trials list (trials, trials_*): drawing $num_pairs trials into $data/$test_set/trials"
    python -m steps.make_trials "$num_pairs" "$data/$test_set" --seed "$seed" --avoid-same-recording \
      --out "$data/$test_set/trials"
  fi
  touch "$(done_marker 3)"
fi

if run_stage 4; then
  log "Stage 4: trials dir for trials_2w"
  python -m steps.split_trials_dir --data-dir "$data/$train_set" --out-dir "$data/$train_set/trials_dir" \
    --trials trials_2w
  touch "$(done_marker 4)"
fi

if run_stage 5; then
  log "Stage 5: egs ($input_per_spks x $num_frames frames per speaker, $num_valid validation utterances, VAD $vad)"
  if [ "$vad" = true ]; then
    for part in "$egs_source" "$test_set" "$train_set/trials_dir"; do
      if [ -f "$data/$part/feats.scp" ]; then
        steps/compute_vad_decision.sh --nj "$nj" --cmd "$train_cmd" "$data/$part"
      fi
    done
  fi
  for set in train valid; do
    python -m steps.make_egs --data-dir "$data/$egs_source" --out-dir "$egs_dir" --feat-type "$feat_type" \
      $([ "$set" = train ] && echo --train) --input-per-spks "$input_per_spks" --num-frames "$num_frames" \
      --num-valid "$num_valid" --feat-format kaldi --out-format "$out_format" --out-set "$set" --nj "$nj" \
      --seed "$seed" $([ "$vad" = true ] && echo --vad)
  done
  touch "$(done_marker 5)"
fi
log "Done."

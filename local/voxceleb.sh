#!/usr/bin/env bash
# VoxCeleb in one command: downloaded VoxCeleb1 (and VoxCeleb2 dev) -> the Vox1-O/E/H table.
#   local/voxceleb.sh --vox1-root /data/voxceleb1 [--vox2-root /data/voxceleb2/dev] [--config conf/rescnn32.yaml]
#       [--nj 16] [--gpus 0,1,2,3] [--aug true --musan-root /data/musan --rirs-root /data/RIRS_NOISES]
# Layouts: <vox1-root>/wav/<spk>/<video>/<n>.wav; <vox2-root>/aac/<spk>/<video>/<n>.m4a (ffmpeg decodes
# them at feature time); the official lists veri_test2.txt, list_test_all2.txt, list_test_hard2.txt in
# --lists-dir (default: the VoxCeleb1 root).
# Stages:
#   1  Kaldi data dirs (python -m steps.prepare_voxceleb) under --data: dev/, test/ and all/ of VoxCeleb1
#      with the lists as trials_<list> (O in test/, E and H in all/), and vox2_dev/
#   2  features, in-domain trials, trials dir and egs (./a_prep_egs.sh) of the training set: vox2_dev when
#      --vox2-root is given (tested on all/: Vox1-O, E and H), else VoxCeleb1 dev (tested on test/: Vox1-O
#      only, since the E and H lists pair utterances of the dev speakers)
#   3  train, embed and score every list (./c_train.sh stages 1-3; training through $cuda_cmd on a cluster)
#   4  the table in WeSpeaker's layout: python -m steps.vox_table -> exp/<name>/vox1_table.md
# Machine settings are the options below; hyper-parameters live in the YAML (--config).
set -euo pipefail
. ./path.sh

stage=1                    # first stage to run
stop_stage=4               # last stage to run
vox1_root=""               # VoxCeleb1 root (holds wav/); required
vox2_root=""               # VoxCeleb2 dev root (holds aac/); empty: train on VoxCeleb1 dev
lists_dir=""               # dir of the official lists; default --vox1-root
data=data/vox              # where the data dirs, features and egs go
config=conf/rescnn32.yaml  # the experiment YAML
exp_dir=""                 # default exp/<config stem>
nj=8                       # parallel jobs (features, egs, embeddings)
threads=""                 # threads per job; empty: cores / nj
gpus=""                    # e.g. 0,1: CUDA DDP over those GPUs (the GPU count on a cluster); empty: CPU
aug=false                  # true: MUSAN + RIR augmentation (Kaldi voxceleb/v2)
musan_root=""              # MUSAN root, with --aug true
rirs_root=""               # RIRS_NOISES root, with --aug true
input_per_spks=""          # egs per speaker; empty: 768 with VoxCeleb2, 1024 with VoxCeleb1 (the paper)
num_frames=600             # eg length in frames (the paper)
num_pairs=20000            # in-domain trials from the training speakers (the paper)
help_message="Usage: $0 --vox1-root DIR [options]"
. utils/parse_options.sh

[ -n "$vox1_root" ] || { echo "$0: --vox1-root is required" >&2; exit 1; }
lists_dir=${lists_dir:-$vox1_root}
if [ -n "$vox2_root" ]; then
  train_set=vox2_dev test_set=all per_spk=${input_per_spks:-768}
else
  train_set=dev test_set=test per_spk=${input_per_spks:-1024}
fi
exp=${exp_dir:-exp/$(basename "$config" .yaml)}

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  lists=()
  for l in veri_test2.txt list_test_all2.txt list_test_hard2.txt; do
    [ -f "$lists_dir/$l" ] && lists+=("$lists_dir/$l")
  done
  [ ${#lists[@]} -gt 0 ] || { echo "$0: no official list (veri_test2.txt, ...) in $lists_dir" >&2; exit 1; }
  [ -n "$vox2_root" ] || lists=("${lists[0]}")  # E and H pair dev utterances: not with a VoxCeleb1-dev model
  log "Stage 1: data dirs of $vox1_root${vox2_root:+ and $vox2_root} -> $data (lists: ${lists[*]##*/})"
  python -m steps.prepare_voxceleb vox1 --root "$vox1_root" --out "$data" --trials "${lists[@]}"
  if [ -n "$vox2_root" ]; then
    python -m steps.prepare_voxceleb vox2 --root "$vox2_root" --out "$data/vox2_dev"
    for f in "$data"/test/trials_*; do  # Vox1-O beside E and H: every list is scored on all/
      [ -d "$data/all" ] && cp "$f" "$data/all/"
    done
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: features and egs of $train_set ($per_spk x $num_frames frames per speaker), features of $test_set"
  ./a_prep_egs.sh --data "$data" --train-set "$train_set" --test-set "$test_set" --nj "$nj" \
    ${threads:+--threads "$threads"} --num-pairs "$num_pairs" --input-per-spks "$per_spk" --num-frames "$num_frames" \
    --aug "$aug" --musan-root "$musan_root" --rirs-root "$rirs_root"
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: train $config -> $exp, embed and score every list of $data/$test_set"
  ./c_train.sh --data "$data" --train-set "$train_set" --test-set "$test_set" --config "$config" \
    --exp-dir "$exp" --nj "$nj" ${threads:+--threads "$threads"} ${gpus:+--gpus "$gpus"} --aug "$aug" --stop-stage 3
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: the Vox1-O/E/H table"
  python -m steps.vox_table --exp-dir "$exp"
fi
log "Done."

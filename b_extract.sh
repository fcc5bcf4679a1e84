#!/usr/bin/env bash
# Gradient frequency weights of a trained teacher (GFA steps 1-2).
#   ./b_extract.sh [--stage N] [--stop-stage N] [--teacher-exp exp/demo_rescnn] [--method integrated_gradients]
# Stages:
#   1  saliency maps of --utts-per-spk utterances per training speaker (gradients/cam_extract.py),
#      jobs through $train_cmd, merged into exp/<teacher>/gradients/<method>/maps.scp
#   2  maps -> freq_weights.{npy,txt,json} + plots (gradients/visual_gradient.py)
#   3  (run on request: --stage 3 --stop-stage 3) insertion / deletion curves of every method whose maps
#      exist (or --insdel-methods), all made with the same --utts-per-spk and --seed (steps/insdel.py):
#      exp/<teacher>/insdel/{results.md,auc.csv,curves.csv,plots/insert.png,plots/delete.png}
# Everything about the teacher (config, checkpoint, label index, feature conf, the data dir its egs
# were cut from) is read from --teacher-exp. Methods and their options (defaults included) come from
# the saliency registry: `python -m steps.cam_extract --list-methods`; an empty option below
# means the method's default, and an option the method does not take is an error.
# c_train.sh stage 4 (attention retrain) reads exp/<teacher>/gradients/<method>/freq_weights.npy.
set -euo pipefail
. ./path.sh
. ./cmd.sh

stage=1                    # first stage to run
stop_stage=2               # last stage to run (3: insertion/deletion curves, on request)
teacher_exp=exp/demo_rescnn  # the trained teacher experiment dir
method=integrated_gradients   # see gradients/cam_extract.py --list-methods
target=cosine                 # cosine (GFA) | softmax | verification
utts_per_spk=1             # utterances per training speaker to attribute
steps=""                      # integrated_gradients points (empty: the registry's default, 50)
baseline=""                   # integrated_gradients baseline: zero | time_mean (empty: zero)
n_samples=""                  # expected_gradients / gradient_shap / smoothgrad samples (empty: default)
data=""                       # data root; empty: the data dir the teacher's egs were cut from
train_set=train               # with --data: the dir <data>/<train-set> to attribute
reduction=abs              # map -> weight per bin: abs | relu | signed
nj=2                       # parallel saliency jobs
threads=""                 # threads per job (torch, BLAS); empty: cores / nj
gpus=""                       # e.g. "0,1": job J runs on GPU (J-1) mod n; empty = CPU
internal_batch_size=""        # path points per forward/backward, the memory bound (empty: 16 on the CPU, 64 on GPUs)
seed=123456                # utterance sampling and random draws
insdel_methods=""             # stage 3: methods to compare (empty: every method with maps)
insdel_levels="points rows"   # stage 3: rank time-frequency points and/or whole frequency rows
point_fills="time_mean dataset_mean zero"    # stage 3: what replaces points (time_mean: the paper's)
row_fills=dataset_mean        # stage 3: what replaces whole rows
oracle_band=""                # stage 3: LO-HI Hz of a planted band: adds the oracle map
help_message="Usage: $0 [options]"
. utils/parse_options.sh
gfa_threads "$nj" "$threads"
gfa_check_cmd "\$train_cmd (cmd.sh)" "$train_cmd"

out=$teacher_exp/gradients/$method
if [ ! -f "$teacher_exp/config.yaml" ] || [ ! -d "$teacher_exp/checkpoints" ]; then
  echo "$0: --teacher-exp $teacher_exp is not a trained experiment (no config.yaml / checkpoints/); train it with ./c_train.sh" >&2
  exit 1
fi

opts=(--device cpu)
[ -n "$gpus" ] && opts=(--device cuda --gpus "$gpus")
[ -n "$data" ] && opts+=(--data-dir "$data/$train_set")
[ -n "$steps" ] && opts+=(--steps "$steps")
[ -n "$baseline" ] && opts+=(--baseline "$baseline")
[ -n "$n_samples" ] && opts+=(--n-samples "$n_samples")
[ -n "$internal_batch_size" ] && opts+=(--internal-batch-size "$internal_batch_size")

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  src="the data dir of the teacher's egs"
  [ -n "$data" ] && src=$data/$train_set
  log "Stage 1: $method maps ($target target) of $utts_per_spk utterance(s) per speaker of $src ($GFA_THREADS_NOTE)"
  mkdir -p "$out/log"
  $train_cmd JOB=1:"$nj" "$out/log/cam_extract.JOB.log" python -m steps.cam_extract --exp-dir "$teacher_exp" \
    --method "$method" --target "$target" --utts-per-spk "$utts_per_spk" --seed "$seed" \
    "${opts[@]}" --job JOB --num-jobs "$nj"
  python -m steps.cam_extract --exp-dir "$teacher_exp" --method "$method" --merge --num-jobs "$nj"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: frequency weights and plots"
  python -m steps.visual_gradient --exp-dir "$teacher_exp" --method "$method" --reduction "$reduction"
fi
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: insertion / deletion curves of ${insdel_methods:-every extracted method} ($teacher_exp/insdel)"
  iopts=()
  [ -n "$insdel_methods" ] && read -r -a m_list <<< "$insdel_methods" && iopts+=(--methods "${m_list[@]}")
  [ -n "$oracle_band" ] && iopts+=(--oracle-band "$oracle_band")
  read -r -a levels <<< "$insdel_levels"
  read -r -a pfills <<< "$point_fills"
  read -r -a rfills <<< "$row_fills"
  dev=cpu; [ -n "$gpus" ] && dev=cuda
  $train_cmd "$teacher_exp/insdel/log/insdel.log" python -m steps.insdel --exp-dir "$teacher_exp" \
    --levels "${levels[@]}" --point-fills "${pfills[@]}" --row-fills "${rfills[@]}" --device "$dev" "${iopts[@]}"
  tail -n 1 "$teacher_exp/insdel/log/insdel.log"
fi
log "Done."

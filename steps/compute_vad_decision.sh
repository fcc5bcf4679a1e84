#!/usr/bin/env bash
# Energy VAD as Kaldi's steps/compute_vad_decision.sh (compute-vad on feature column 0):
#   steps/compute_vad_decision.sh [--nj N] [--cmd CMD] [--vad-config conf/vad.conf] <data-dir> [<log-dir> [<vad-dir>]]
# -> <vad-dir>/vad_<name>.JOB.{ark,scp}, <data-dir>/vad.scp. Needs feats.scp whose column 0 is log
# energy (spect, or mfcc with use-energy). Optional: the GFA recipe does not drop unvoiced frames;
# a_prep_egs.sh --vad true and data.vad: true in the experiment YAML use it (egs, embeddings).
set -euo pipefail
. "$(dirname "$0")/../path.sh"
nj=4                       # parallel jobs
cmd=utils/run.pl           # job runner: utils/run.pl or utils/slurm.pl
vad_config=conf/vad.conf   # Kaldi compute-vad options (copied to <data-dir>/conf/vad.conf)
help_message="Usage: $0 [--nj N] [--cmd CMD] [--vad-config F] <data-dir> [<log-dir> [<vad-dir>]]"
. "$GFA_ROOT/utils/parse_options.sh"
gfa_check_cmd --cmd "$cmd"
if [ $# -lt 1 ] || [ $# -gt 3 ]; then echo "$help_message" >&2; exit 1; fi
data=$1
logdir=${2:-$data/log}
vaddir=${3:-$data/data}
name=$(basename "$data")
[ -f "$data/feats.scp" ] || { echo "$0: no such file $data/feats.scp" >&2; exit 1; }
[ -f "$vad_config" ] || { echo "$0: no such file $vad_config" >&2; exit 1; }
mkdir -p "$logdir" "$vaddir"
vaddir=$(cd "$vaddir" && pwd)
utils/split_data.sh --per-utt "$data" "$nj"
$cmd JOB=1:"$nj" "$logdir/vad_${name}.JOB.log" \
  python -m steps.compute_vad --config "$vad_config" "$data/split${nj}utt/JOB" "$vaddir/vad_${name}.JOB" \
  || { echo "$0: VAD failed; see $logdir/vad_${name}.*.log" >&2; exit 1; }
for n in $(seq "$nj"); do cat "$vaddir/vad_${name}.$n.scp"; done | sort > "$data/vad.scp.tmp.$$"
mv "$data/vad.scp.tmp.$$" "$data/vad.scp"
mkdir -p "$data/conf" && cp "$vad_config" "$data/conf/vad.conf.tmp.$$" && mv "$data/conf/vad.conf.tmp.$$" "$data/conf/vad.conf"  # for the egs and the experiment
echo "$0: created VAD output for $name ($(wc -l < "$data/vad.scp") utterances)"

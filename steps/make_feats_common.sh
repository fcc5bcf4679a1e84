# Shared body of steps/make_{spect,fbank,mfcc}.sh (sourced; the wrapper sets feat_type and its
# <type>_config default). Kaldi signature and outputs:
#   steps/make_<type>.sh [--nj N] [--cmd CMD] [--<type>-config F] [--write-utt2num-frames true|false]
#                        [--write-utt2dur true|false] [--compress true|false] <data-dir> [<log-dir> [<feat-dir>]]
# -> <feat-dir>/raw_<type>_<name>.JOB.{ark,scp}, <data-dir>/{feats.scp,utt2num_frames,utt2dur,frame_shift}
. "$(dirname "${BASH_SOURCE[0]}")/../path.sh"

nj=4                       # parallel jobs (the data dir is split per utterance)
cmd=utils/run.pl           # job runner: utils/run.pl or utils/slurm.pl
compress=true              # Kaldi lossy compression of the feature arks
write_utt2num_frames=true  # write <data-dir>/utt2num_frames
write_utt2dur=true         # write <data-dir>/utt2dur
dither_seed=0          # dither noise is seeded per recording from this and a hash of its samples
max_fail_frac=0.01     # a job fails when more than this fraction of its utterances fail
help_message="Usage: $0 [options] <data-dir> [<log-dir> [<${feat_type}-dir>]]
e.g.: $0 --nj 12 --cmd utils/run.pl data/train exp/make_${feat_type}/train ${feat_type}"
. "$GFA_ROOT/utils/parse_options.sh"
gfa_check_cmd --cmd "$cmd"

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
data=$1
logdir=${2:-$data/log}
featdir=${3:-$data/data}
config_var="${feat_type}_config"
config=${!config_var}
name=$(basename "$data")

[ -f "$config" ] || { echo "$0: no such config file $config" >&2; exit 1; }
# feats.scp holds '<utt> <ark path>:<offset>': a blank in the feature dir's path cannot be read back
case "$(cd "$(dirname "$featdir")" 2>/dev/null && pwd)/$(basename "$featdir")" in
  *[[:space:]]*) echo "$0: the feature dir '$featdir' (absolute: written into feats.scp) contains a blank;" \
                      "an scp line cannot hold it. Choose a path without blanks" >&2; exit 1 ;;
esac
# read the conf once here: a typo is reported now, naming the file and line, not inside every job log
frame_shift=$(python -c "import sys; from datasets.feat_opts import OptionError, read_options
try: print(f'{read_options(sys.argv[1], sys.argv[2])[0].frame.frame_shift / 1000:g}')
except OptionError as e: sys.exit(f'{sys.argv[3]}: {e}')" "$feat_type" "$config" "$0") || exit 1
[ -f "$data/wav.scp" ] || { echo "$0: no such file $data/wav.scp" >&2; exit 1; }
mkdir -p "$logdir" "$featdir"
featdir=$(cd "$featdir" && pwd)  # absolute paths in feats.scp

# one extraction at a time per data dir and per feature dir: a second run says who holds them
lock() {  # lock <fd> <dir>
  eval "exec $1>>\"\$2/.make_feats.lock\""
  if ! flock -n "$1"; then
    echo "$0: $2 is in use by another feature extraction ($(cat "$2/.make_feats.owner" 2>/dev/null || echo unknown)); wait for it, or stop it" >&2
    exit 1
  fi
  echo "pid $$ on ${HOSTNAME:-?} since $(date '+%Y-%m-%d %H:%M:%S'): $0 $data" > "$2/.make_feats.owner"
}
lock 8 "$data"
[ "$(cd "$data" && pwd)" = "$featdir" ] || lock 9 "$featdir"

utils/validate_data_dir.sh --no-feats --no-feat-files "$data" >/dev/null || { echo "$0: fix $data first (utils/fix_data_dir.sh)" >&2; exit 1; }
sdata=$data/split${nj}utt
utils/split_data.sh --per-utt "$data" "$nj"

# every job skips itself when its outputs are complete for the same inputs and options
$cmd JOB=1:"$nj" "$logdir/make_${feat_type}_${name}.JOB.log" \
  python -m steps.compute_feats --type "$feat_type" --config "$config" --compress "$compress" \
    --dither-seed "$dither_seed" --max-fail-frac "$max_fail_frac" \
    "$sdata/JOB" "$featdir/raw_${feat_type}_${name}.JOB" \
  || { echo "$0: feature extraction failed; see $logdir/make_${feat_type}_${name}.*.log" >&2; exit 1; }

concat() {  # concat <suffix> <dest>: join the per-job tables atomically
  local tmp="$2.tmp.$$"
  for n in $(seq "$nj"); do cat "$featdir/raw_${feat_type}_${name}.$n.$1"; done | sort > "$tmp"
  mv "$tmp" "$2"
}
[ -f "$data/feats.scp" ] && mkdir -p "$data/.backup" && cp "$data/feats.scp" "$data/.backup/feats.scp"
concat scp "$data/feats.scp"
[ "$write_utt2num_frames" = true ] && concat utt2num_frames "$data/utt2num_frames"
[ "$write_utt2dur" = true ] && concat utt2dur "$data/utt2dur"
echo "$frame_shift" > "$data/frame_shift"
# the written dimension must be the one the conf gives for this feature type
python -c "import sys, kaldiio; from datasets.feat_opts import read_options
kind, conf, scp, me = sys.argv[1:]
first = open(scp).readline().split(None, 1)
got, want = kaldiio.load_mat(first[1].strip()).shape[1] if first else 0, read_options(kind, conf)[0].dim
print(f'{me}: {kind} features of {got} dims ({conf})') if got == want else sys.exit(
    f'{me}: {scp}: {got}-dim features, but {conf} gives {want} for {kind}')" "$feat_type" "$config" "$data/feats.scp" "$0" \
  || exit 1
# the options of the features now in feats.scp, read by make_egs.py and checked by later stages
mkdir -p "$data/conf" && cp "$config" "$data/conf/" && cp "$config" "$data/conf/feats.conf.tmp.$$" \
  && mv "$data/conf/feats.conf.tmp.$$" "$data/conf/feats.conf" && echo "$feat_type" > "$data/conf/feat_type"

nf=$(wc -l < "$data/feats.scp"); nu=$(wc -l < "$data/utt2spk")
if [ "$nf" -ne "$nu" ]; then
  echo "$0: features for $nf of $nu utterances ($((nu - nf)) skipped, see the logs); run utils/fix_data_dir.sh $data" >&2
  # the reasons, here and not only in the job logs (a wrong sample rate, an unreadable wav, ...)
  grep -h "skipped" "$logdir"/make_"${feat_type}"_"${name}".*.log 2>/dev/null | head -n 5 | sed "s|^|$0: |" >&2 || true
fi
echo "$0: succeeded creating ${feat_type} features for $name ($nf utterances)"

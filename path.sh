# Sourced by every stage script (". ./path.sh"). Makes "python -m steps.<tool>" (and the original GFA
# code's paths, "python datasets/make_trials.py ...") work from the repo root, puts utils/ on PATH, and fixes the sort order.
GFA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GFA_ROOT
export PYTHONPATH="$GFA_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$GFA_ROOT/utils:$PATH"
export LC_ALL=C                 # Kaldi sort order for every data-dir file
export PYTHONUNBUFFERED=1
export PYTHONIOENCODING=UTF-8
# a stage script's log line: time, script and line, message
log() { echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${0##*/}:${BASH_LINENO[0]}) $*"; }
# The one place that names an egs dir: <data>/egs/<feat-type>[_aug][_vad] (a_prep_egs.sh writes it,
# c_train.sh reads it with the same --aug/--vad options)
gfa_egs_dir() {  # <data> <feat-type> <aug true|false> <vad true|false>
  echo "$1/egs/$2$([ "$3" = true ] && echo _aug)$([ "$4" = true ] && echo _vad)"
}
# Threads per job for torch and BLAS: --threads N, or (empty) the cores over the jobs run side by side,
# so that nj jobs of a stage do not oversubscribe the cores. Exports OMP/MKL/OPENBLAS_NUM_THREADS for the
# jobs started after it and sets GFA_THREADS_NOTE, which the stage's log line prints.
gfa_threads() {  # <jobs side by side> <threads option, empty: cores / jobs>
  local jobs=$1 n=$2 cores
  cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)  # nproc obeys OMP_*
  case "$n" in
    "") n=$(( cores / jobs > 0 ? cores / jobs : 1 )) ;;
    *[!0-9]*|0*) echo "$0: --threads expects a positive integer, got '$n'" >&2; exit 1 ;;
  esac
  export OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n
  GFA_THREADS_NOTE="$n thread(s) per job: $jobs job(s) side by side on $cores core(s)"
}
# use the project's virtual environment when one exists and none is active
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "$GFA_ROOT/.venv/bin/activate" ]; then
  . "$GFA_ROOT/.venv/bin/activate"
fi
# CPU memory allocator (core/allocator.py, docs/performance.md): preload tcmalloc when installed
# (apt install libtcmalloc-minimal4, conda install gperftools), else mimalloc (pip's cmeel-mimalloc,
# in requirements.txt, or apt's libmimalloc), unless GFA_MALLOC names another setting.
# GFA_MALLOC=jemalloc preloads jemalloc (faster than glibc, but it grew to 3.3 GB in the demo training
# where tcmalloc stayed at 1.2 GB), keeping freed pages (no decay), one arena.
gfa_python_lib() {  # the lib folder of pip's cmeel packages in the active Python, or nothing
  local py
  py=$(command -v python3 || command -v python || true)
  [ -n "$py" ] && "$py" -c 'import sysconfig; print(sysconfig.get_path("purelib") + "/cmeel.prefix/lib")' 2>/dev/null
  return 0
}
gfa_find_allocator() {  # [auto|tcmalloc|jemalloc|mimalloc] -> the library's path, or nothing
  local d n names="libtcmalloc_minimal.so.4 libtcmalloc.so.4 libmimalloc.so.3 libmimalloc.so.2" pip_lib
  case "${1:-auto}" in
    jemalloc) names=libjemalloc.so.2 ;;
    tcmalloc) names="libtcmalloc_minimal.so.4 libtcmalloc.so.4" ;;
    mimalloc) names="libmimalloc.so.3 libmimalloc.so.2" ;;
  esac
  for n in $names; do
    case "$n" in libmimalloc*) [ -n "${pip_lib+x}" ] || pip_lib=$(gfa_python_lib) ;; esac  # start Python only if needed
    for d in ${CONDA_PREFIX:+"$CONDA_PREFIX/lib"} ${pip_lib:+"$pip_lib"} /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
      [ -f "$d/$n" ] && { echo "$d/$n"; return 0; }
    done
  done
  return 0
}
case "${GFA_MALLOC:-auto}" in
  auto|tcmalloc|jemalloc|mimalloc)
    if [[ "${LD_PRELOAD:-}" != *malloc* ]]; then
      GFA_ALLOCATOR_LIB=$(gfa_find_allocator "${GFA_MALLOC:-auto}")
      if [ -n "$GFA_ALLOCATOR_LIB" ]; then
        export LD_PRELOAD="$GFA_ALLOCATOR_LIB${LD_PRELOAD:+:$LD_PRELOAD}"
        case "$GFA_ALLOCATOR_LIB" in
          *jemalloc*) export MALLOC_CONF="${MALLOC_CONF:-narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1}" ;;
        esac
      fi
    fi ;;
esac
# A job runner (--cmd, $train_cmd, $cuda_cmd) is split on blanks and run, never evaluated by a shell:
# shell syntax in it would run nothing it says. Refuse it, naming the option, before any job starts.
gfa_check_cmd() {  # <what> <value>
  case "$2" in
    *[\;\|\&\<\>\$\`]*)
      echo "$0: $1 '$2': shell syntax (; | & < > \$ \`) is not run: the runner is split on blanks, never" \
           "evaluated; give a launcher and its options, e.g. 'utils/slurm.pl --mem 4G'" >&2
      exit 1 ;;
  esac
  local first=${2%% *}
  if [ -n "$first" ] && [ ! -x "$first" ] && [ ! -x "$GFA_ROOT/$first" ] && ! command -v "$first" >/dev/null 2>&1; then
    echo "$0: $1 '$2': no runner '$first' (utils/run.pl, utils/slurm.pl, or an executable on PATH)" >&2
    exit 1
  fi
}

# Sourced by every stage script (". ./path.sh"). Makes both "python datasets/make_trials.py ..." and
# "python -m steps.<tool>" work from the repo root, puts utils/ on PATH, and fixes the sort order.
GFA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GFA_ROOT
export PYTHONPATH="$GFA_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$GFA_ROOT/utils:$PATH"
export LC_ALL=C                 # Kaldi sort order for every data-dir file
export PYTHONUNBUFFERED=1
export PYTHONIOENCODING=UTF-8
# use the project's virtual environment when one exists and none is active
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f "$GFA_ROOT/.venv/bin/activate" ]; then
  . "$GFA_ROOT/.venv/bin/activate"
fi

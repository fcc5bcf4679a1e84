# Sourced by the utils/*.sh wrappers: run the repo's Python tools from anywhere.
_gfa_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$_gfa_root${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C
gfa_python() { "${PYTHON:-python3}" "$@"; }

#!/usr/bin/env bash
# Usage: utils/combine_data.sh <dest-data-dir> <src-data-dir1> <src-data-dir2> ...
# Union of data dirs with disjoint utterance ids; per-utterance files kept when every source has them.
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir combine "$@"

#!/usr/bin/env bash
# Usage: utils/split_data.sh [--per-utt] <data-dir> <num-to-split>
# Writes <data-dir>/split<N>[utt]/{1..N}; by speaker unless --per-utt. Reuses a split newer than its sources.
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir split "$@" >/dev/null

#!/usr/bin/env bash
# Usage: utils/subset_data_dir.sh (--utt-list <file> | --spk-list <file>) <src-dir> <dest-dir>
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir subset "$@"

#!/usr/bin/env bash
# Usage: utils/validate_data_dir.sh [--no-feats] [--no-feat-files] [--no-wav] [--no-text] [--no-spk-sort] [--no-check-paths] <data-dir>
# Checks sorting, unique keys, utt2spk/spk2utt agreement, utterance lists across files, wav paths,
# numeric files and trials. Prints every problem as file:line and exits 1; changes nothing.
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir validate "$@"

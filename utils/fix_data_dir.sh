#!/usr/bin/env bash
# Usage: utils/fix_data_dir.sh <data-dir>
# Keeps the utterances present in every per-utterance file, sorts (LC_ALL=C), removes duplicates,
# CRLF and stray blanks, regenerates spk2utt, drops trials naming removed utterances. Changed files
# are backed up to <data-dir>/.backup; unchanged files are not touched.
. "$(dirname "$0")/_py.sh"
[ $# -eq 1 ] || { echo "Usage: $0 <data-dir>" >&2; exit 1; }
exec "${PYTHON:-python3}" -m steps.data_dir fix "$1"

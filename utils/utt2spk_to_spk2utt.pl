#!/usr/bin/env bash
# Usage: utils/utt2spk_to_spk2utt.pl [<utt2spk>] > spk2utt   (reads stdin without an argument)
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir utt2spk_to_spk2utt "$@"

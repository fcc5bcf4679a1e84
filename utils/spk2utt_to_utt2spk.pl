#!/usr/bin/env bash
# Usage: utils/spk2utt_to_utt2spk.pl [<spk2utt>] > utt2spk   (reads stdin without an argument)
. "$(dirname "$0")/_py.sh"
exec "${PYTHON:-python3}" -m steps.data_dir spk2utt_to_utt2spk "$@"

#!/usr/bin/env bash
# Kaldi-compatible steps/make_spect.sh without Kaldi:
#   steps/make_spect.sh [--nj N] [--cmd CMD] [--spect-config F] [--write-utt2num-frames true|false]
#                    [--compress true|false] <data-dir> [<log-dir> [<spect-dir>]]
# See steps/make_feats_common.sh for outputs, resumption and failure rules.
set -euo pipefail
feat_type=spect
spect_config=conf/spect_161.conf
. "$(dirname "$0")/make_feats_common.sh"

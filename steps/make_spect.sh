#!/usr/bin/env bash
# Kaldi-compatible steps/make_spect.sh without Kaldi:
#   steps/make_spect.sh [--nj N] [--cmd CMD] [--spect-config F] [--write-utt2num-frames true|false]
#                    [--compress true|false] <data-dir> [<log-dir> [<spect-dir>]]
# See steps/make_feats_common.sh for outputs, resumption and failure rules.
set -euo pipefail
feat_type=spect  # fixed: the feature type of this wrapper
spect_config=conf/spect_161.conf  # Kaldi-syntax feature options (recorded as <data-dir>/conf/feats.conf)
. "$(dirname "$0")/make_feats_common.sh"

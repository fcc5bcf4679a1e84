#!/usr/bin/env bash
# Kaldi-compatible steps/make_fbank.sh without Kaldi:
#   steps/make_fbank.sh [--nj N] [--cmd CMD] [--fbank-config F] [--write-utt2num-frames true|false]
#                    [--compress true|false] <data-dir> [<log-dir> [<fbank-dir>]]
# See steps/make_feats_common.sh for outputs, resumption and failure rules.
set -euo pipefail
feat_type=fbank  # fixed: the feature type of this wrapper
fbank_config=conf/fbank_80.conf  # Kaldi-syntax feature options (recorded as <data-dir>/conf/feats.conf)
. "$(dirname "$0")/make_feats_common.sh"

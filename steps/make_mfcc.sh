#!/usr/bin/env bash
# Kaldi-compatible steps/make_mfcc.sh without Kaldi:
#   steps/make_mfcc.sh [--nj N] [--cmd CMD] [--mfcc-config F] [--write-utt2num-frames true|false]
#                    [--compress true|false] <data-dir> [<log-dir> [<mfcc-dir>]]
# See steps/make_feats_common.sh for outputs, resumption and failure rules.
set -euo pipefail
feat_type=mfcc  # fixed: the feature type of this wrapper
mfcc_config=conf/mfcc_30.conf  # Kaldi-syntax feature options (recorded as <data-dir>/conf/feats.conf)
. "$(dirname "$0")/make_feats_common.sh"

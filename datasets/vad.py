"""Energy voice-activity detection as Kaldi ``compute-vad`` (ivector/voice-activity-detection.cc).

Works on any features whose column 0 is log energy (spectrogram, MFCC with use-energy).
"""
from __future__ import annotations

import numpy as np

from datasets.feat_opts import VadOpts


def compute_vad(feats: np.ndarray, opts: VadOpts) -> np.ndarray:
    """(frames,) float32 of 0/1: frame t is voiced when at least ``proportion`` of the frames in
    t +- context have log energy above ``threshold + mean_scale * mean(log energy)``."""
    log_energy = np.asarray(feats, dtype=np.float64)[:, 0]  # (time,)
    T = len(log_energy)
    if T == 0:
        return np.zeros(0, dtype=np.float32)
    threshold = opts.vad_energy_threshold
    if opts.vad_energy_mean_scale != 0.0:
        threshold += opts.vad_energy_mean_scale * log_energy.sum() / T
    above = np.concatenate([[0], np.cumsum(log_energy > threshold)])
    c = opts.vad_frames_context
    lo = np.maximum(np.arange(T) - c, 0)
    hi = np.minimum(np.arange(T) + c, T - 1) + 1
    num, den = above[hi] - above[lo], hi - lo
    return (num >= den * opts.vad_proportion_threshold).astype(np.float32)

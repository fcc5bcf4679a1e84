"""Energy voice-activity detection as Kaldi ``compute-vad`` (ivector/voice-activity-detection.cc).

Works on any features whose column 0 is log energy (spectrogram, MFCC with use-energy).
"""

from __future__ import annotations

import numpy as np

from datasets.feat_opts import VadOpts
from core.errors import UsageError


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


def voiced_masks(
    decisions: dict[str, np.ndarray], lengths: dict[str, int], min_frames: int = 1
) -> tuple[dict[str, np.ndarray], list[str]]:
    """(utt -> bool frame mask, notes) from VAD decisions, as Kaldi's select-voiced-frames: a frame is
    kept when its decision is non-zero. A decision of another length than the features is an error;
    an utterance with fewer than ``min_frames`` voiced frames keeps every frame (Kaldi drops it, which
    would leave its trials without a score), and a note says so."""
    masks, notes = {}, []
    for utt, n in lengths.items():
        if utt not in decisions:
            raise UsageError(f"{utt}: no VAD decision (vad.scp does not list it)")
        d = np.asarray(decisions[utt]).reshape(-1)
        if len(d) != n:
            raise UsageError(
                f"{utt}: VAD decision has {len(d)} frames, the features {n}: vad.scp was made from "
                "other features (rerun steps/compute_vad_decision.sh)"
            )
        keep = d != 0
        if keep.sum() < min_frames:
            notes.append(f"{utt}: {int(keep.sum())} voiced frame(s) of {n}, fewer than {min_frames}; all frames kept")
            continue
        masks[utt] = keep
    return masks, notes

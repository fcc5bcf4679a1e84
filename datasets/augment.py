"""Additive noise and reverberation as Kaldi's ``wav-reverberate`` applies them for voxceleb/v2.

All signals are 1-D float arrays in int16 scale at one sample rate. SNRs are with respect to the
power (energy per sample) of the whole clean utterance, as Kaldi computes them; noises shorter than
their span are looped. Reverberation convolves with an RIR and shifts the result back by the RIR's
direct-path peak, so the speech is not delayed; its power is restored to the input's.
"""

from __future__ import annotations

import numpy as np
from scipy import signal
from core.errors import GfaError


class AugmentError(GfaError, ValueError):
    pass


def power(x: np.ndarray) -> float:
    return float(np.mean(np.asarray(x, dtype=np.float64) ** 2)) if len(x) else 0.0


def fit_length(noise: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """``n`` samples of ``noise`` from ``start``, looping it when shorter."""
    if len(noise) == 0:
        raise AugmentError("empty noise signal")
    reps = -(-(start + n) // len(noise))
    return np.tile(noise, reps)[start : start + n]


def scaled_noise(speech_power: float, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that 10 log10(speech_power / power(noise)) = snr_db."""
    p = power(noise)
    if p == 0:
        raise AugmentError("silent noise signal")
    return noise * np.sqrt(speech_power / (p * 10 ** (snr_db / 10)))


def _speech_power(speech: np.ndarray) -> float:
    p = power(speech)
    if p == 0:
        raise AugmentError("speech energy is zero")
    return p


def add_background(
    speech: np.ndarray, noises: list[np.ndarray], snrs_db: list[float], starts: list[int] | None = None
) -> np.ndarray:
    """Each noise looped over the whole utterance at its own SNR (music: one; babble: 3-7 speakers)."""
    p = _speech_power(speech)
    out = np.asarray(speech, dtype=np.float64).copy()
    for i, (nz, snr) in enumerate(zip(noises, snrs_db)):
        out += scaled_noise(p, fit_length(nz, len(speech), (starts or [0] * len(noises))[i]), snr)
    return out


def add_foreground(speech: np.ndarray, noises: list[np.ndarray], snrs_db: list[float], interval: int) -> np.ndarray:
    """Noises one after another from the start, ``interval`` samples of gap between them (Kaldi's
    foreground noise: a new noise every second), each at its SNR; the last may be cut at the end."""
    p = _speech_power(speech)
    out = np.asarray(speech, dtype=np.float64).copy()
    pos = 0
    for nz, snr in zip(noises, snrs_db):
        if pos >= len(out):
            break
        seg = scaled_noise(p, np.asarray(nz, dtype=np.float64), snr)[: len(out) - pos]
        out[pos : pos + len(seg)] += seg
        pos += len(seg) + interval
    return out


def reverberate(speech: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Speech convolved with ``rir``, advanced by the RIR's peak (direct path) and cut to the input
    length, then scaled back to the input power."""
    rir = np.asarray(rir, dtype=np.float64)
    if not np.any(rir):
        raise AugmentError("RIR is all zeros")
    peak = int(np.argmax(np.abs(rir)))
    y = signal.fftconvolve(np.asarray(speech, dtype=np.float64), rir / np.sqrt(np.sum(rir**2)))
    y = y[peak : peak + len(speech)]
    p_in, p_out = power(speech), power(y)
    return y * np.sqrt(p_in / p_out) if p_out > 0 else y


def parse_snrs(text: str) -> list[float]:
    """Kaldi-style SNR list ``"15:10:5:0"`` -> floats; a clear error otherwise."""
    try:
        values = [float(x) for x in str(text).split(":")]
    except ValueError:
        raise AugmentError(f"bad SNR list {text!r}: expected numbers separated by ':' (e.g. 15:10:5:0)") from None
    if not values or not all(np.isfinite(values)):
        raise AugmentError(f"bad SNR list {text!r}")
    return values

"""Kaldi-exact spectrogram, fbank and MFCC in numpy, vectorised over frames and utterances.

Follows ``src/feat/feature-window.cc`` (framing, dither, DC removal, raw log energy before
pre-emphasis, windows, zero padding), ``feature-spectrogram.cc`` (log power, column 0 = log energy),
``mel-computations.cc`` (mel = 1127 ln(1 + f/700), triangular banks over FFT bins 0..N/2-1) and
``feature-mfcc.cc`` (DCT-II with Kaldi's normalisation, cepstral lifter). Input samples are in int16
scale; every output is a (frames, dim) float32 matrix: rows are time, columns are frequency.
"""

from __future__ import annotations

import hashlib

from functools import lru_cache

import numpy as np

from datasets.feat_opts import FbankOpts, FrameOpts, MfccOpts, SpectOpts
from core.errors import UsageError

FLT_EPSILON = float(np.finfo(np.float32).eps)


def num_frames(n_samples: int, fr: FrameOpts) -> int:
    """Kaldi ``NumFrames`` (flush=true)."""
    length, shift = fr.window_size, fr.window_shift
    if fr.snip_edges:
        return 0 if n_samples < length else 1 + (n_samples - length) // shift
    return (n_samples + shift // 2) // shift


def frame_indices(n_samples: int, fr: FrameOpts) -> np.ndarray:
    """(frames, window) sample indices; with snip-edges=false, out-of-range samples are reflected."""
    length, shift, n = fr.window_size, fr.window_shift, num_frames(n_samples, fr)
    if fr.snip_edges:
        starts = np.arange(n) * shift
    else:
        starts = np.arange(n) * shift + shift // 2 - length // 2
    idx = starts[:, None] + np.arange(length)[None, :]
    if not fr.snip_edges and n_samples > 0:
        while True:  # reflect like Kaldi's ExtractWindow, repeatedly for very short inputs
            low, high = idx < 0, idx >= n_samples
            if not (low.any() or high.any()):
                break
            idx = np.where(low, -idx - 1, idx)
            idx = np.where(high, 2 * n_samples - 1 - idx, idx)
    return idx


@lru_cache(maxsize=32)
def window_function(kind: str, length: int, blackman_coeff: float = 0.42) -> np.ndarray:
    i = np.arange(length, dtype=np.float64)
    a = 2 * np.pi / (length - 1)
    if kind == "hanning":
        w = 0.5 - 0.5 * np.cos(a * i)
    elif kind == "sine":
        w = np.sin(0.5 * a * i)
    elif kind == "hamming":
        w = 0.54 - 0.46 * np.cos(a * i)
    elif kind == "povey":
        w = (0.5 - 0.5 * np.cos(a * i)) ** 0.85
    elif kind == "rectangular":
        w = np.ones(length)
    elif kind == "blackman":
        w = blackman_coeff - 0.5 * np.cos(a * i) + (0.5 - blackman_coeff) * np.cos(2 * a * i)
    else:
        raise UsageError(f"unknown window type {kind!r}")
    w.setflags(write=False)
    return w


def _frames(waves: list[np.ndarray], fr: FrameOpts, rngs) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Processed windows of all utterances stacked: (sum frames, window), raw log energy, counts."""
    counts = [num_frames(len(w), fr) for w in waves]
    parts = [np.asarray(w, dtype=np.float64)[frame_indices(len(w), fr)] for w, n in zip(waves, counts) if n]
    if not parts:
        return np.zeros((0, fr.window_size)), np.zeros(0), counts
    frames = np.concatenate(parts)  # (frames, window)
    if fr.dither != 0.0:
        noise = [rng.standard_normal((n, fr.window_size)) for rng, n in zip(rngs, counts) if n]
        frames += fr.dither * np.concatenate(noise)
    if fr.remove_dc_offset:
        frames -= frames.mean(axis=1, keepdims=True)
    raw_log_energy = np.log(np.maximum(np.einsum("ij,ij->i", frames, frames), FLT_EPSILON))
    if fr.preemphasis_coefficient != 0.0:
        p = fr.preemphasis_coefficient
        frames[:, 1:] -= p * frames[:, :-1].copy()
        frames[:, 0] -= p * frames[:, 0]
    frames *= window_function(fr.window_type, fr.window_size, fr.blackman_coeff)
    return frames, raw_log_energy, counts


def _power_spectrum(frames: np.ndarray, fr: FrameOpts) -> np.ndarray:
    """|rfft|^2 over the padded window: (frames, padded/2 + 1)."""
    spec = np.fft.rfft(frames, n=fr.padded_window_size, axis=1)
    return spec.real**2 + spec.imag**2


def _energy(raw_log_energy: np.ndarray, frames: np.ndarray, raw: bool, floor: float) -> np.ndarray:
    e = raw_log_energy if raw else np.log(np.maximum(np.einsum("ij,ij->i", frames, frames), FLT_EPSILON))
    return np.maximum(e, np.log(floor)) if floor > 0.0 else e


def mel_scale(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


@lru_cache(maxsize=32)
def mel_banks(num_bins: int, low: float, high: float, sample_rate: float, padded: int) -> np.ndarray:
    """Kaldi triangular mel filters, (num_bins, padded/2): the Nyquist bin gets no weight."""
    nyquist = 0.5 * sample_rate
    high = high if high > 0.0 else nyquist + high
    mel_low, mel_high = mel_scale(low), mel_scale(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    mel = mel_scale(np.arange(padded // 2) * sample_rate / padded)  # centre of each FFT bin
    left = mel_low + np.arange(num_bins)[:, None] * delta
    center, right = left + delta, left + 2 * delta
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    w = np.where(mel <= center, up, down)
    w[(mel <= left) | (mel >= right)] = 0.0
    w.setflags(write=False)
    return w


def _mel_energies(power: np.ndarray, opts, use_power: bool = True) -> np.ndarray:
    fr, mel = opts.frame, opts.mel
    banks = mel_banks(mel.num_mel_bins, mel.low_freq, mel.high_freq, fr.sample_frequency, fr.padded_window_size)
    spec = power[:, : fr.padded_window_size // 2]
    return (spec if use_power else np.sqrt(spec)) @ banks.T  # (frames, mel bins)


@lru_cache(maxsize=8)
def dct_matrix(num_ceps: int, num_bins: int) -> np.ndarray:
    """Kaldi ``ComputeDctMatrix`` rows 0..num_ceps-1: (num_ceps, num_bins)."""
    k = np.arange(num_ceps)[:, None]
    n = np.arange(num_bins)[None, :]
    m = np.sqrt(2.0 / num_bins) * np.cos(np.pi / num_bins * (n + 0.5) * k)
    m[0] = np.sqrt(1.0 / num_bins)
    m.setflags(write=False)
    return m


def _finish(feats: np.ndarray, energy: np.ndarray | None, opts) -> np.ndarray:
    if isinstance(opts, SpectOpts):
        feats[:, 0] = energy
    elif isinstance(opts, FbankOpts) and opts.use_energy:
        feats = np.concatenate([feats, energy[:, None]] if opts.htk_compat else [energy[:, None], feats], axis=1)
    elif isinstance(opts, MfccOpts):
        if opts.use_energy:
            feats[:, 0] = energy
        if opts.htk_compat:
            c0 = feats[:, 0] * (1.0 if opts.use_energy else np.sqrt(2.0))
            feats = np.concatenate([feats[:, 1:], c0[:, None]], axis=1)
    return feats


def content_rng(seed: int, samples: np.ndarray) -> np.random.Generator:
    """The dither noise of one recording, seeded by ``seed`` and a hash of its samples (not its name):
    the same audio gets the same features under any utterance id or file name."""
    digest = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def compute_batch(waves: list[np.ndarray], opts, rngs=None) -> list[np.ndarray]:
    """Features of several utterances at once (one FFT over all their frames).

    ``waves``: 1-D sample arrays in int16 scale at ``opts.frame.sample_frequency``; ``rngs``: one
    numpy Generator per utterance for dither (required when dither != 0). Returns (frames, dim)
    float32 matrices; an utterance shorter than one window gives a (0, dim) matrix.
    """
    fr = opts.frame
    if fr.dither != 0.0 and (rngs is None or len(rngs) != len(waves)):
        raise UsageError("dither needs one random generator per utterance")
    frames, raw_e, counts = _frames(waves, fr, rngs or [None] * len(waves))
    power = _power_spectrum(frames, fr)  # (frames, freq)
    if isinstance(opts, SpectOpts):
        feats = np.log(np.maximum(power, FLT_EPSILON))
    else:
        feats = _mel_energies(power, opts, getattr(opts, "use_power", True))
        if isinstance(opts, MfccOpts) or opts.use_log_fbank:
            feats = np.log(np.maximum(feats, FLT_EPSILON))
        if isinstance(opts, MfccOpts):
            feats = feats @ dct_matrix(opts.num_ceps, opts.mel.num_mel_bins).T  # (frames, ceps)
            if opts.cepstral_lifter != 0.0:
                q = opts.cepstral_lifter
                feats *= 1.0 + 0.5 * q * np.sin(np.pi * np.arange(opts.num_ceps) / q)
    needs_energy = isinstance(opts, (SpectOpts, MfccOpts)) or opts.use_energy
    energy = _energy(raw_e, frames, opts.raw_energy, opts.energy_floor) if needs_energy else None
    feats = _finish(feats, energy, opts).astype(np.float32)
    bounds = np.cumsum([0] + counts)
    return [feats[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def compute(wave: np.ndarray, opts, rng=None) -> np.ndarray:
    """Features of one utterance: (frames, dim) float32."""
    return compute_batch([wave], opts, [rng] if rng is not None else None)[0]


def bin_axis(opts) -> tuple[np.ndarray, str]:
    """What each output column of these features is on a plot: (values, axis label). Spectrogram
    column k is k * fs / N Hz (column 0 holds the log energy: NaN); fbank columns are the mel filters'
    centre frequencies (an energy column: NaN); MFCC columns are cepstral indices (no frequency)."""
    fr = opts.frame
    if isinstance(opts, SpectOpts):
        hz = np.arange(opts.dim) * fr.sample_frequency / fr.padded_window_size
        hz[0] = np.nan
        return hz, "frequency (Hz)"
    if isinstance(opts, MfccOpts):
        return np.arange(opts.dim, dtype=np.float64), "cepstral coefficient"
    nyq = fr.sample_frequency / 2
    high = opts.mel.high_freq if opts.mel.high_freq > 0 else nyq + opts.mel.high_freq
    lo, hi = mel_scale(opts.mel.low_freq), mel_scale(high)
    centres = lo + (hi - lo) * np.arange(1, opts.mel.num_mel_bins + 1) / (opts.mel.num_mel_bins + 1)
    hz = 700.0 * (np.exp(centres / 1127.0) - 1.0)  # inverse of Kaldi's mel scale
    if opts.use_energy:
        hz = np.append(hz, np.nan) if opts.htk_compat else np.insert(hz, 0, np.nan)
    return hz, "frequency (Hz, mel filter centres)"

"""Source-filter speech synthesis with speaker-, content- and channel-level variation.

A voice is a glottal pulse train (F0 contour, jitter, shimmer, spectral tilt, breathiness) driven
through a cascade of formant resonators whose frequencies are the phone's targets scaled by the
speaker's vocal-tract length and idiosyncratic offsets, plus fricative/burst noise, then two
speaker-specific peaking resonances. The channel (gain, high-pass, shelf tilt, background noise)
varies per recording session and a little per utterance. All arrays are 1-D sample vectors at
``SR`` Hz; nothing here touches the file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

SR = 16000

# Peterson & Barney (1952) adult-male averages F1-F3 (Hz); F4/F5 fixed
VOWELS = {
    "iy": (270, 2290, 3010),
    "ih": (390, 1990, 2550),
    "eh": (530, 1840, 2480),
    "ae": (660, 1720, 2410),
    "ah": (520, 1190, 2390),
    "aa": (730, 1090, 2440),
    "ao": (570, 840, 2410),
    "uh": (440, 1020, 2240),
    "uw": (300, 870, 2240),
    "er": (490, 1350, 1690),
}
NASALS = {"m": (250, 1100, 2300), "n": (250, 1500, 2500), "ng": (250, 2000, 2700)}
# fricative noise bands (Hz) and whether they are voiced
FRICATIVES = {
    "s": (4500, 7500, False),
    "sh": (2500, 5500, False),
    "f": (1200, 7500, False),
    "th": (1500, 7000, False),
    "z": (4500, 7500, True),
    "v": (1200, 6000, True),
    "h": (500, 4000, False),
}
STOPS = {"p": (500, 2500), "t": (3000, 6500), "k": (1500, 3500), "b": (400, 2000), "d": (2500, 5000), "g": (1200, 3000)}
BANDWIDTHS = np.array([70.0, 100.0, 140.0, 200.0, 250.0])


@dataclass
class Voice:
    """Everything that makes one speaker sound like themselves."""

    f0: float  # median F0 (Hz)
    f0_range: float  # intonation spread (semitones, std)
    vtl: float  # formant scale (short tract > 1)
    formant_offsets: np.ndarray  # (5,) multiplicative idiosyncrasies per formant
    bw_scale: float  # formant bandwidth scale
    tilt: float  # one-pole glottal low-pass coefficient in (0, 1): higher = darker
    breathiness: float  # aspiration noise relative to voicing
    jitter: float  # cycle-to-cycle F0 perturbation (fraction)
    shimmer: float  # cycle-to-cycle amplitude perturbation (fraction)
    rate: float  # speaking-rate factor (> 1 = faster)
    peaks: list[tuple[float, float, float]] = field(default_factory=list)  # (Hz, Q, dB) peaking EQs


def random_voice(rng: np.random.Generator) -> Voice:
    female = rng.random() < 0.5
    return Voice(
        f0=rng.uniform(165, 255) if female else rng.uniform(85, 150),
        f0_range=rng.uniform(1.0, 3.5),
        vtl=rng.uniform(1.05, 1.22) if female else rng.uniform(0.86, 1.02),
        formant_offsets=rng.normal(1.0, 0.045, size=5),
        bw_scale=rng.uniform(0.75, 1.4),
        tilt=rng.uniform(0.55, 0.93),
        breathiness=rng.uniform(0.01, 0.25),
        jitter=rng.uniform(0.003, 0.02),
        shimmer=rng.uniform(0.02, 0.12),
        rate=rng.uniform(0.8, 1.25),
        peaks=[(rng.uniform(700, 6500), rng.uniform(1.5, 5.0), rng.uniform(-9, 9)) for _ in range(2)],
    )


def population_voice(rng: np.random.Generator) -> Voice:
    """A voice drawn from one shared, speaker-independent distribution (planted-band mode)."""
    return Voice(
        f0=rng.uniform(100, 200),
        f0_range=rng.uniform(1.5, 3.0),
        vtl=rng.uniform(0.95, 1.08),
        formant_offsets=np.ones(5),
        bw_scale=1.0,
        tilt=rng.uniform(0.7, 0.85),
        breathiness=rng.uniform(0.05, 0.12),
        jitter=0.01,
        shimmer=0.05,
        rate=rng.uniform(0.9, 1.1),
    )


@dataclass
class Channel:
    gain_db: float
    highpass_hz: float
    shelf_db: float  # high-shelf gain above ~2 kHz
    snr_db: float


def random_channel(rng: np.random.Generator) -> Channel:
    return Channel(rng.uniform(-14, -2), rng.uniform(40, 160), rng.uniform(-6, 6), rng.uniform(22, 40))


def jitter_channel(ch: Channel, rng: np.random.Generator) -> Channel:
    """The same session with small per-utterance changes."""
    return Channel(
        ch.gain_db + rng.normal(0, 1.5), ch.highpass_hz, ch.shelf_db + rng.normal(0, 0.7), ch.snr_db + rng.normal(0, 2.0)
    )


def _resonator_sos(freqs: np.ndarray, bws: np.ndarray) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators, shape (n, 6)."""
    freqs = np.minimum(freqs, 0.45 * SR)
    r = np.exp(-np.pi * bws / SR)
    c = 2 * r * np.cos(2 * np.pi * freqs / SR)
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = 1 - c + r * r
    sos[:, 3], sos[:, 4], sos[:, 5] = 1.0, -c, r * r
    return sos


def _peaking_sos(f0: float, q: float, gain_db: float) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter as one SOS row."""
    a, w = 10 ** (gain_db / 40), 2 * np.pi * f0 / SR
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None]


def _shelf_sos(gain_db: float, f0: float = 2000.0) -> np.ndarray:
    """RBJ high-shelf (slope 1) as one SOS row."""
    a, w = 10 ** (gain_db / 40), 2 * np.pi * f0 / SR
    alpha = np.sin(w) / 2 * np.sqrt(2)
    cw, sa = np.cos(w), 2 * np.sqrt(a) * alpha
    b = np.array([a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)])
    den = np.array([(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa])
    return np.concatenate([b / den[0], den / den[0]])[None]


def _phone_sequence(rng: np.random.Generator, n_samples: int, rate: float) -> list[tuple[str, int]]:
    """(phone, length in samples) covering ``n_samples``: CV(C) syllables, words and pauses."""
    vowels, cons = list(VOWELS), list(NASALS) + list(FRICATIVES) + list(STOPS)
    seq = [("sil", int(rng.uniform(0.08, 0.25) * SR))]
    total = seq[0][1]
    while total < n_samples:
        for _ in range(rng.integers(1, 4)):  # syllables per word
            syl = [rng.choice(cons), rng.choice(vowels)] + ([rng.choice(cons)] if rng.random() < 0.4 else [])
            for ph in syl:
                dur = rng.uniform(0.09, 0.2) if ph in VOWELS else rng.uniform(0.04, 0.11)
                seq.append((str(ph), max(int(dur / rate * SR), 80)))
        seq.append(("sil", int(rng.uniform(0.03, 0.25) * SR)))
        total = sum(n for _, n in seq)
    return seq


def _glottal_source(rng: np.random.Generator, voice: Voice, n: int) -> np.ndarray:
    """Pulse train with a slow F0 contour, jitter, shimmer and spectral tilt; (n,) samples."""
    t = np.arange(n) / SR
    slow = sum(
        rng.normal(0, 1) * np.sin(2 * np.pi * rng.uniform(0.2, 1.5) * t + rng.uniform(0, 6.3)) for _ in range(3)
    ) / np.sqrt(3)
    f0 = voice.f0 * 2 ** ((voice.f0_range * slow - 1.5 * t / max(t[-1], 1e-3)) / 12)
    jit = signal.lfilter([1.0], [1.0, -0.99], rng.standard_normal(n))  # ~6 ms correlated perturbation
    f0 *= 1 + voice.jitter * jit / (np.std(jit) + 1e-9)
    phase = np.cumsum(f0 / SR)
    pulses = np.zeros(n)
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1
    pulses[idx] = 1 + voice.shimmer * rng.standard_normal(len(idx))
    src = signal.lfilter([1.0], [1.0, -voice.tilt], pulses)
    src = signal.lfilter([1.0], [1.0, -voice.tilt], src)  # two poles: about -12 dB/octave at high f
    breath = rng.standard_normal(n) * (0.6 + 0.4 * np.cos(2 * np.pi * phase))
    return src / (np.std(src) + 1e-9) + voice.breathiness * breath


def _envelopes(seq: list[tuple[str, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample voicing and noise gains, smoothed over 8 ms to avoid clicks."""
    voiced, noise = np.zeros(n), np.zeros(n)
    pos = 0
    for ph, length in seq:
        end = min(pos + length, n)
        if ph in VOWELS:
            voiced[pos:end] = 1.0
        elif ph in NASALS:
            voiced[pos:end] = 0.35
        elif ph in FRICATIVES:
            noise[pos:end] = 0.25
            voiced[pos:end] = 0.3 if FRICATIVES[ph][2] else 0.0
        elif ph in STOPS:
            burst = min(int(0.015 * SR), end - pos)
            noise[end - burst : end] = 0.6
        pos = end
    k = np.ones(int(0.008 * SR)) / int(0.008 * SR)
    return np.convolve(voiced, k, "same"), np.convolve(noise, k, "same")


def _formant_track(seq: list[tuple[str, int]], voice: Voice) -> list[tuple[int, int, np.ndarray]]:
    """(start, end, 5 formant Hz) blocks: 10 ms glides from the previous target, then steady."""
    blocks, pos = [], 0
    prev = None
    for ph, length in seq:
        base = VOWELS.get(ph) or NASALS.get(ph) or (500, 1500, 2500)
        target = np.array([*base, 3500.0, 4500.0]) * voice.vtl * voice.formant_offsets
        prev = target if prev is None else prev
        glide = min(length // 2, 4 * 160)
        for i in range(0, glide, 160):
            w = (i + 160) / (glide + 160)
            blocks.append((pos + i, pos + min(i + 160, glide), (1 - w) * prev + w * target))
        blocks.append((pos + glide, pos + length, target))
        pos += length
        prev = target
    return blocks


def _vocal_tract(x: np.ndarray, blocks, voice: Voice) -> np.ndarray:
    y = np.zeros_like(x)
    zi = np.zeros((5, 2))
    bws = BANDWIDTHS * voice.bw_scale
    for start, end, formants in blocks:
        if end > start and start < len(x):
            y[start:end], zi = signal.sosfilt(_resonator_sos(formants, bws), x[start:end], zi=zi)
    return y


def _fricative_noise(rng: np.random.Generator, seq, n: int, vtl: float) -> np.ndarray:
    out, pos = np.zeros(n), 0
    for ph, length in seq:
        band = FRICATIVES.get(ph, (None,))[:2] if ph in FRICATIVES else STOPS.get(ph)
        end = min(pos + length, n)
        if band is not None and end > pos:
            lo, hi = min(band[0] * vtl, 7000), min(band[1] * vtl, 7800)
            sos = signal.butter(2, [lo, hi], btype="band", fs=SR, output="sos")
            out[pos:end] = signal.sosfilt(sos, rng.standard_normal(end - pos))
        pos = end
    return out / (np.std(out) + 1e-9)


def synthesize(rng: np.random.Generator, voice: Voice, seconds: float) -> np.ndarray:
    """Clean speech of one utterance (random phone content), unit-RMS over voiced parts; (n,)."""
    n = int(seconds * SR)
    seq = _phone_sequence(rng, n, voice.rate)
    voiced_env, noise_env = _envelopes(seq, n)
    speech = _vocal_tract(_glottal_source(rng, voice, n) * voiced_env, _formant_track(seq, voice), voice)
    speech = speech / (np.std(speech) + 1e-9) + 0.5 * noise_env * _fricative_noise(rng, seq, n, voice.vtl)
    for f, q, g in voice.peaks:
        speech = signal.sosfilt(_peaking_sos(f, q, g), speech)
    speech = signal.lfilter([1.0, -0.95], [1.0], speech)  # lip radiation
    return speech / (np.sqrt(np.mean(speech[voiced_env > 0.5] ** 2)) + 1e-9) if (voiced_env > 0.5).any() else speech


def apply_channel(rng: np.random.Generator, x: np.ndarray, ch: Channel) -> np.ndarray:
    """Recording channel: high-pass, shelf tilt, background noise at ``snr_db``, gain; int16 scale."""
    x = signal.sosfilt(signal.butter(2, ch.highpass_hz, btype="high", fs=SR, output="sos"), x)
    x = signal.sosfilt(_shelf_sos(ch.shelf_db), x)
    noise = signal.lfilter([1.0], [1.0, -0.7], rng.standard_normal(len(x)))  # mildly low-passed noise
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-ch.snr_db / 20)
    y = x + noise
    return y / (np.max(np.abs(y)) + 1e-9) * 32767 * 10 ** (ch.gain_db / 20)


def band_signature(rng: np.random.Generator, band: tuple[float, float], numtaps: int = 513) -> np.ndarray:
    """Linear-phase FIR: unit gain outside ``band`` (Hz), a speaker-specific +-dB curve inside it."""
    lo, hi = band
    freqs = np.linspace(0, SR / 2, 1025)
    gain_db = np.zeros_like(freqs)
    inside = (freqs > lo) & (freqs < hi)
    u = (freqs[inside] - lo) / (hi - lo)  # 0..1 across the band
    for _ in range(3):
        c, w, a = rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.18), rng.choice([-1, 1]) * rng.uniform(5, 11)
        gain_db[inside] += a * np.exp(-0.5 * ((u - c) / w) ** 2)
    gain_db[inside] *= np.sin(np.pi * u) ** 0.5  # taper to 0 dB at the band edges
    return signal.firwin2(numtaps, freqs, 10 ** (gain_db / 20), fs=SR)

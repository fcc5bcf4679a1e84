"""Audio I/O for wav.scp entries (plain paths and Kaldi ``cmd |`` pipes): 16-bit PCM WAV with the
standard library, anything else libsndfile reads (FLAC, 24-bit or float WAV, ...) through soundfile.

Samples are returned in int16 scale (Kaldi's convention) as float32, shape (channels, samples).
"""

from __future__ import annotations

import io
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import GfaError


class AudioError(GfaError, ValueError):
    """A wav that cannot be read; the message names the entry and the reason."""


class _Unsupported(Exception):
    """The stdlib reader cannot decode this encoding; soundfile may."""


def _parse_pcm16(data, what: str) -> tuple[np.ndarray, int]:
    try:
        with wave.open(data if not isinstance(data, Path) else str(data), "rb") as w:
            nch, width, sr, nframes = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            if w.getcomptype() != "NONE":
                raise _Unsupported(f"compressed wav ({w.getcomptype()})")
            raw = w.readframes(nframes)
    except _Unsupported:
        raise
    except (wave.Error, EOFError, struct.error, RuntimeError, ValueError) as e:
        if "unknown format" in str(e) or "does not start with RIFF id" in str(e):
            raise _Unsupported(str(e)) from None
        raise AudioError(f"{what}: corrupt or not a RIFF/WAVE file ({e})") from None
    if width != 2:
        raise _Unsupported(f"{8 * width}-bit samples")
    got = len(raw) // (2 * nch)
    if got < nframes:
        raise AudioError(f"{what}: truncated: header says {nframes} samples, file has {got}")
    x = np.frombuffer(raw[: got * 2 * nch], dtype="<i2").astype(np.float32)
    return x.reshape(-1, nch).T.copy(), sr  # (channels, samples)


def _parse_soundfile(data, what: str, why: str) -> tuple[np.ndarray, int]:
    """FLAC, 24/32-bit and float WAV and the other formats libsndfile reads, in int16 scale."""
    try:
        import soundfile
    except ImportError:
        raise AudioError(
            f"{what}: {why}: only 16-bit PCM WAV is read without the soundfile package "
            "(pip install soundfile), or convert with 'sox in -b 16 -e signed-integer out.wav'"
        ) from None
    if hasattr(data, "seek"):
        data.seek(0)
    try:
        x, sr = soundfile.read(data if not isinstance(data, Path) else str(data), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError) as e:
        raise AudioError(f"{what}: corrupt or not a readable audio file ({why}; soundfile: {e})") from None
    return np.ascontiguousarray(x.T) * 32768.0, int(sr)  # (channels, samples), full scale -> int16 scale


def _parse(data: io.BufferedIOBase | str | Path, what: str) -> tuple[np.ndarray, int]:
    try:
        return _parse_pcm16(data, what)
    except _Unsupported as e:
        return _parse_soundfile(data, what, str(e))


def resample(x: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    """(channels, n) samples from ``rate_from`` to ``rate_to`` Hz: polyphase filtering (scipy), exact
    ratio, the band above the lower Nyquist removed."""
    from math import gcd
    from scipy.signal import resample_poly

    g = gcd(int(rate_from), int(rate_to))
    return resample_poly(x, int(rate_to) // g, int(rate_from) // g, axis=-1).astype(np.float32)


def read_wav(spec: str, what: str | None = None) -> tuple[np.ndarray, int]:
    """Read a wav.scp value: a file path, or a shell command ending in ``|`` whose stdout is a wav.

    Returns (samples (channels, n) float32 in int16 scale, sample rate).
    """
    what = what or spec
    spec = spec.strip()
    if spec.endswith("|"):
        proc = subprocess.run(spec[:-1], shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise AudioError(f"{what}: pipe failed with exit code {proc.returncode}: {err[0]}")
        if not proc.stdout:
            raise AudioError(f"{what}: pipe produced no output")
        return _parse(io.BytesIO(proc.stdout), what)
    path = Path(spec)
    if not path.is_file():
        raise AudioError(f"{what}: file not found: {spec}")
    if path.stat().st_size == 0:
        raise AudioError(f"{what}: empty file: {spec}")
    return _parse(path, what)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = 16000) -> None:
    """Atomically write mono samples in int16 scale (clipped) as 16-bit PCM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), -32768, 32767).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(x.tobytes())


def iter_data_dir_audio(wav_scp: dict[str, str], segments: dict[str, tuple[str, float, float]] | None = None):
    """Yield (utt, samples (channels, n) or AudioError, sample rate or 0) in utterance order.

    Without ``segments``, ``wav_scp`` is keyed by utterance. With it, each recording is read once
    for its consecutive segments and cut like Kaldi's ``extract-segments`` (start/end in seconds,
    truncated to samples; an end up to 0.5 s past the recording is clamped).
    """
    if segments is None:
        for utt, spec in wav_scp.items():
            try:
                x, sr = read_wav(spec, what=utt)
                yield utt, x, sr
            except AudioError as e:
                yield utt, e, 0
        return
    cache: tuple[str, object, int] = ("", None, 0)
    for utt, (reco, start, end) in segments.items():
        if cache[0] != reco:
            try:
                x, sr = read_wav(wav_scp[reco], what=f"{utt} (recording {reco})")
                cache = (reco, x, sr)
            except AudioError as e:
                cache = (reco, e, 0)
            except KeyError:
                cache = (reco, AudioError(f"{utt}: recording {reco} is not in wav.scp"), 0)
        x, sr = cache[1], cache[2]
        if isinstance(x, AudioError):
            yield utt, x, 0
            continue
        a, b = int(start * sr), int(end * sr)
        n = x.shape[1]
        if b > n and b - n <= 0.5 * sr:
            b = n
        if not 0 <= a < b <= n:
            yield utt, AudioError(f"{utt}: segment {start}-{end} s is outside recording {reco} ({n / sr:.3f} s)"), 0
            continue
        yield utt, x[:, a:b], sr

"""MUSAN and RIRS_NOISES: lists from their published layouts, and stand-ins in the same layouts.

MUSAN: ``<root>/{noise,music,speech}/<source>/<name>.wav`` with an ``ANNOTATIONS`` file per source
(music lines ``<name> <genre> <vocals Y|N> ...``; Kaldi's v2 recipe uses music without vocals).
RIRS_NOISES: ``<root>/simulated_rirs/{smallroom,mediumroom}/rir_list`` with lines
``--rir-id <id> --room-id <room> RIRS_NOISES/simulated_rirs/<type>/<Room>/<name>.wav`` (paths
relative to the directory that holds RIRS_NOISES). The stand-ins (coloured noise, tonal music,
babble from synthetic speakers, exponentially decaying RIRs of a given RT60) let tests and the demo
run the same code without the real corpora.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

from datasets import synth_voice as sv
from datasets.audio import write_wav
from datasets.kaldi_files import DataDirError
from core.atomic import atomic_write_text

SR = sv.SR


def read_musan(root: str | Path, use_vocals: bool = False) -> dict[str, list[tuple[str, Path]]]:
    """{"noise"|"music"|"speech": [(id, path)]}; music with vocals only when ``use_vocals``."""
    root = Path(root)
    out: dict[str, list[tuple[str, Path]]] = {}
    for kind in ("noise", "music", "speech"):
        if not (root / kind).is_dir():
            raise DataDirError(f"{root / kind}: missing; expected the MUSAN layout {kind}/<source>/*.wav")
        vocals = {}
        for ann in (root / kind).glob("*/ANNOTATIONS"):
            for ln in ann.read_text().splitlines():
                parts = ln.split()
                if kind == "music" and len(parts) >= 3:
                    vocals[parts[0]] = parts[2] == "Y"
        files = sorted((root / kind).glob("*/*.wav"))
        if not files:
            raise DataDirError(f"{root / kind}: no wav files")
        out[kind] = [(f.stem, f) for f in files if use_vocals or not vocals.get(f.stem, False)]
    return out


def read_rir_list(root: str | Path, room: str) -> list[tuple[str, Path]]:
    """(rir id, path) of ``<root>/simulated_rirs/<room>/rir_list``; missing files are an error
    naming the list and line (the usual cause of Kaldi's 'fewer than 95 % of features')."""
    root = Path(root)
    lst = root / "simulated_rirs" / room / "rir_list"
    if not lst.exists():
        raise DataDirError(f"{lst}: missing; expected the RIRS_NOISES layout")
    out = []
    for i, ln in enumerate(lst.read_text().splitlines(), 1):
        parts = ln.split()
        if len(parts) != 5 or parts[0] != "--rir-id" or parts[2] != "--room-id":
            raise DataDirError(f"{lst}:{i}: expected '--rir-id ID --room-id ROOM PATH', got {ln.strip()!r}")
        path = root.parent / parts[4]
        if not path.is_file():
            raise DataDirError(f"{lst}:{i}: RIR file not found: {path}")
        out.append((parts[1], path))
    return out


def _noise(rng, n: int) -> np.ndarray:
    """Coloured noise: white noise through a random one-pole filter, random level."""
    a = rng.uniform(-0.5, 0.95)
    return signal.lfilter([1.0], [1.0, -a], rng.standard_normal(n)) * rng.uniform(500, 4000)


def _music(rng, n: int) -> np.ndarray:
    """Tonal music: random notes (harmonic tones with decaying envelopes) on a beat."""
    t = np.arange(n) / SR
    out = np.zeros(n)
    beat = rng.uniform(0.2, 0.5)
    for start in np.arange(0, n / SR, beat):
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        seg = (t >= start) & (t < start + 2 * beat)
        env = np.exp(-(t[seg] - start) * rng.uniform(2, 8))
        out[seg] += env * sum(np.sin(2 * np.pi * f0 * k * t[seg]) / k for k in range(1, 5))
    return out * 3000


def rir(rng, rt60: float, n: int | None = None, delay: int | None = None) -> np.ndarray:
    """An exponentially decaying noise RIR with RT60 ``rt60`` s and a direct path at ``delay``."""
    n = n or int(rt60 * SR)
    delay = int(rng.integers(20, 200)) if delay is None else delay
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.1  # -60 dB at rt60; below the direct path
    h[:delay] = 0.0
    h[delay] = 1.0
    return h


def make_musan_standin(root: str | Path, seed: int = 11, n_each: int = 6, seconds: float = 5.0) -> Path:
    """A MUSAN-layout folder of stand-in noise, music (half with a vocals flag) and speech."""
    root, rng = Path(root), np.random.default_rng(seed)
    n = int(seconds * SR)
    for i in range(n_each):
        write_wav(root / "noise" / "free-sound" / f"noise-free-sound-{i:04d}.wav", _noise(rng, n))
        write_wav(root / "music" / "fma" / f"music-fma-{i:04d}.wav", _music(rng, n))
        voice = sv.random_voice(rng)
        write_wav(
            root / "speech" / "librivox" / f"speech-librivox-{i:04d}.wav",
            sv.apply_channel(rng, sv.synthesize(rng, voice, seconds), sv.random_channel(rng)),
        )
    atomic_write_text(
        root / "noise" / "free-sound" / "ANNOTATIONS", "".join(f"noise-free-sound-{i:04d} standin\n" for i in range(n_each))
    )
    atomic_write_text(
        root / "music" / "fma" / "ANNOTATIONS",
        "".join(f"music-fma-{i:04d} standin {'Y' if i % 2 else 'N'} standin standin\n" for i in range(n_each)),
    )
    atomic_write_text(
        root / "speech" / "librivox" / "ANNOTATIONS",
        "".join(f"speech-librivox-{i:04d} {'m' if i % 2 else 'f'} english\n" for i in range(n_each)),
    )
    return root


def make_rirs_standin(parent: str | Path, seed: int = 12, n_rooms: int = 3, per_room: int = 3) -> Path:
    """``<parent>/RIRS_NOISES/simulated_rirs/{smallroom,mediumroom}`` with rir_list files."""
    base, rng = Path(parent) / "RIRS_NOISES" / "simulated_rirs", np.random.default_rng(seed)
    for room_type, rt60 in (("smallroom", (0.2, 0.4)), ("mediumroom", (0.4, 0.8))):
        lines = []
        for r in range(1, n_rooms + 1):
            for k in range(1, per_room + 1):
                rel = f"RIRS_NOISES/simulated_rirs/{room_type}/Room{r:03d}/Room{r:03d}-{k:05d}.wav"
                write_wav(Path(parent) / rel, rir(rng, rng.uniform(*rt60)) * 20000)
                lines.append(f"--rir-id {room_type}-Room{r:03d}-{k:05d} --room-id {room_type}-Room{r:03d} {rel}\n")
        atomic_write_text(base / room_type / "rir_list", "".join(lines))
    return Path(parent) / "RIRS_NOISES"

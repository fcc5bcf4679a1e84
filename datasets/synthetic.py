"""A synthetic, speaker-disjoint speaker-verification corpus written as Kaldi data dirs.

Layout under ``out``::

    wav/<spk>/<utt>.wav             16 kHz 16-bit mono
    train/{wav.scp,utt2spk,spk2utt}
    test/{wav.scp,utt2spk,spk2utt,trials}
    corpus.json                     preset, seed, counts, hours, planted band, per-speaker voices

Utterance ids are ``<spk>-<session>-<nnnnn>`` (VoxCeleb style: speaker, recording, index), so they
sort by speaker. Each utterance is generated from its own seed ``(seed, speaker, index)``: the
corpus is identical whatever the number of jobs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import signal

from datasets import synth_voice as sv
from datasets.audio import write_wav
from datasets.datadir import utt2spk_to_spk2utt
from datasets.kaldi_files import c_key, format_table
from core.atomic import atomic_write_text
from core.parallel import pool_map
from core.errors import UsageError


@dataclass(frozen=True)
class Preset:
    train_speakers: int
    test_speakers: int
    train_utts: int  # utterances per training speaker
    test_utts: int  # utterances per test speaker
    sessions: int  # recording sessions (channels) per speaker
    min_seconds: float
    max_seconds: float
    max_trials: int = 20000


PRESETS = {
    "tiny": Preset(8, 4, 5, 4, 2, 1.0, 2.0),
    "demo": Preset(40, 16, 24, 8, 4, 3.0, 7.0),
    # the demo's training speakers (the same voices and audio: speakers are drawn by index) with 200 test
    # speakers: 5,600 target and 94,400 nontarget trials, so that minDCF(0.001) has ~94 false alarms to
    # stand on and speaker sampling no longer dominates a comparison (issue 26). The 5 demo teachers
    # measured 3.59 +- 0.73 % EER on the demo's 16 test speakers and 4.86 +- 0.45 % on these 200.
    "experiment": Preset(40, 200, 24, 8, 4, 3.0, 7.0, max_trials=100_000),
}


@dataclass(frozen=True)
class Utterance:
    utt: str
    spk: str
    spk_index: int
    index: int
    session: int
    seconds: float


def _speaker_rng(seed: int, spk_index: int, *tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, spk_index, *tag]))


def plan_corpus(preset: Preset, seed: int) -> tuple[list[Utterance], list[Utterance]]:
    """The (train, test) utterance lists: ids, speakers, sessions, durations; no audio."""

    def speaker_utts(spk_index: int, n: int) -> list[Utterance]:
        rng = _speaker_rng(seed, spk_index, 0)
        spk = f"spk{spk_index + 1:04d}"
        sessions = rng.integers(0, preset.sessions, size=n)
        secs = rng.uniform(preset.min_seconds, preset.max_seconds, size=n)
        return [
            Utterance(f"{spk}-s{sessions[i] + 1:02d}-{i + 1:05d}", spk, spk_index, i, int(sessions[i]), round(float(secs[i]), 3))
            for i in range(n)
        ]

    train = [u for s in range(preset.train_speakers) for u in speaker_utts(s, preset.train_utts)]
    test = [
        u
        for s in range(preset.train_speakers, preset.train_speakers + preset.test_speakers)
        for u in speaker_utts(s, preset.test_utts)
    ]
    return sorted(train, key=lambda u: c_key(u.utt)), sorted(test, key=lambda u: c_key(u.utt))


def speaker_voice(seed: int, spk_index: int, planted_band: tuple[float, float] | None):
    """(voice or None, band FIR or None): in planted-band mode only the FIR is speaker-specific."""
    rng = _speaker_rng(seed, spk_index, 1)
    if planted_band is None:
        return sv.random_voice(rng), None
    return None, sv.band_signature(rng, planted_band)


def render(u: Utterance, seed: int, planted_band: tuple[float, float] | None) -> np.ndarray:
    """The samples (int16 scale) of one utterance."""
    voice, fir = speaker_voice(seed, u.spk_index, planted_band)
    rng = _speaker_rng(seed, u.spk_index, 3, u.index)
    if voice is None:  # planted band: voice and channel are drawn per utterance, not per speaker
        voice, session = sv.population_voice(rng), sv.random_channel(rng)
    else:
        session = sv.random_channel(_speaker_rng(seed, u.spk_index, 2, u.session))
    x = sv.synthesize(rng, voice, u.seconds)
    if fir is not None:
        x = signal.oaconvolve(x, fir, mode="same")  # linear phase, delay compensated
    return sv.apply_channel(rng, x, sv.jitter_channel(session, rng))


def _render_job(args) -> None:
    u, seed, band, path = args
    if not Path(path).exists():
        write_wav(path, render(u, seed, band), sv.SR)


def make_trials(utts: list[Utterance], max_trials: int, seed: int) -> list[tuple[str, str, str]]:
    """All pairs when there are at most ``max_trials``, else all targets (capped at half) plus a
    seeded sample of nontargets; enrolment/test order as generated, list sorted."""
    pairs = list(combinations(utts, 2))
    tar = [(a.utt, b.utt, "target") for a, b in pairs if a.spk == b.spk]
    non = [(a.utt, b.utt, "nontarget") for a, b in pairs if a.spk != b.spk]
    if len(pairs) > max_trials:
        rng = np.random.default_rng(seed)
        if len(tar) > max_trials // 2:
            tar = [tar[i] for i in sorted(rng.choice(len(tar), max_trials // 2, replace=False))]
        non = [non[i] for i in sorted(rng.choice(len(non), max_trials - len(tar), replace=False))]
    return sorted(tar + non)


def _write_dir(d: Path, utts: list[Utterance], wav_root: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_text(d / "wav.scp", format_table((u.utt, str(wav_root / u.spk / f"{u.utt}.wav")) for u in utts))
    atomic_write_text(d / "utt2spk", format_table((u.utt, u.spk) for u in utts))
    s2u = utt2spk_to_spk2utt({u.utt: u.spk for u in utts})
    atomic_write_text(d / "spk2utt", format_table((s, " ".join(v)) for s, v in s2u.items()))
    atomic_write_text(d / "utt2dur", format_table((u.utt, f"{u.seconds:.3f}") for u in utts))


def describe(preset_name: str, seed: int, planted_band, train, test) -> dict:
    preset = PRESETS[preset_name]
    voices = {}
    if planted_band is None:
        for u in train + test:
            if u.spk not in voices:
                v = speaker_voice(seed, u.spk_index, None)[0]
                voices[u.spk] = {
                    "f0": round(v.f0, 1),
                    "vtl": round(v.vtl, 3),
                    "tilt": round(v.tilt, 3),
                    "breathiness": round(v.breathiness, 3),
                }
    return {
        "preset": preset_name,
        "params": asdict(preset),
        "seed": seed,
        "planted_band_hz": list(planted_band) if planted_band else None,
        "train": {
            "speakers": len({u.spk for u in train}),
            "utterances": len(train),
            "hours": round(sum(u.seconds for u in train) / 3600, 4),
        },
        "test": {
            "speakers": len({u.spk for u in test}),
            "utterances": len(test),
            "hours": round(sum(u.seconds for u in test) / 3600, 4),
        },
        "voices": voices,
    }


def parse_band(text: str) -> tuple[float, float]:
    """'LOW-HIGH' in Hz (e.g. '2000-3000') -> (low, high); the range itself is checked by generate_corpus."""
    try:
        lo, hi = (float(x) for x in text.split("-"))
    except ValueError:
        raise UsageError(f"a planted band is LOW-HIGH in Hz (e.g. 2000-3000), got {text!r}") from None
    return lo, hi


def generate_corpus(
    out: str | Path,
    preset: str = "demo",
    seed: int = 777,
    planted_band: tuple[float, float] | None = None,
    nj: int = 1,
    progress=None,
) -> dict:
    """Write the corpus to ``out``; an existing complete corpus with the same settings is kept."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if planted_band is not None:
        lo, hi = planted_band
        if not 0 < lo < hi < sv.SR / 2:
            raise UsageError(f"planted band must satisfy 0 < low < high < {sv.SR // 2} Hz, got {lo}-{hi}")
    out = Path(out).resolve()
    train, test = plan_corpus(PRESETS[preset], seed)
    info = describe(preset, seed, planted_band, train, test)
    meta = out / "corpus.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        if old == info:
            return info
        raise FileExistsError(
            f"{out} holds a different corpus ({old.get('preset')}, seed {old.get('seed')}, "
            f"band {old.get('planted_band_hz')}); remove it or choose another directory"
        )
    wav_root = out / "wav"
    jobs = [(u, seed, planted_band, str(wav_root / u.spk / f"{u.utt}.wav")) for u in train + test]
    pool_map(_render_job, jobs, nj, unordered=True, progress=progress)
    _write_dir(out / "train", train, wav_root)
    _write_dir(out / "test", test, wav_root)
    atomic_write_text(out / "test" / "trials", format_table(make_trials(test, PRESETS[preset].max_trials, seed)))
    atomic_write_text(meta, json.dumps(info, indent=1) + "\n")  # written last: marks the corpus complete
    return info

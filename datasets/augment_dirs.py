"""Augmented copies of a data dir in the shape of Kaldi voxceleb/v2, without copying audio.

For each utterance and each kind (reverb, noise, music, babble) a recipe is drawn (seeded) and
written to ``utt2aug`` (``<utt>-<kind> <json>``); ``wav.scp`` keeps the clean source, and feature
extraction applies the recipe in-process (``apply_recipe``). Settings as v2: reverb small/medium room
0.5/0.5; noise foreground SNR 15/10/5/0 dB, a new noise every second; music background 15/10/8/5 dB;
babble 3-7 speech utterances at 20/17/15/13 dB.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datasets.audio import read_wav
from datasets.augment import AugmentError, add_background, add_foreground, reverberate
from core.errors import UsageError

KINDS = ("reverb", "noise", "music", "babble")
DEFAULTS = {
    "noise_snrs": [15, 10, 5, 0],
    "music_snrs": [15, 10, 8, 5],
    "babble_snrs": [20, 17, 15, 13],
    "babble_speakers": [3, 4, 5, 6, 7],
    "rooms": {"smallroom": 0.5, "mediumroom": 0.5},
    "interval": 1.0,
}


def draw_recipe(kind: str, seconds: float, rng: np.random.Generator, sources: dict, opts: dict = DEFAULTS) -> dict:
    """One utterance's recipe. ``sources``: {"noise"|"music"|"speech": [(path, seconds)],
    "rirs": {room: [path]}}; paths are strings so the recipe is plain JSON."""
    pick = lambda items: items[int(rng.integers(len(items)))]  # noqa: E731
    if kind == "reverb":
        rooms = list(opts["rooms"])
        room = rooms[int(rng.choice(len(rooms), p=np.array(list(opts["rooms"].values())) / sum(opts["rooms"].values())))]
        return {"type": "reverb", "rir": pick(sources["rirs"][room])}
    if kind == "noise":
        noises, snrs, covered = [], [], 0.0
        while covered < seconds:
            path, dur = pick(sources["noise"])
            noises.append(path)
            snrs.append(float(pick(opts["noise_snrs"])))
            covered += dur + opts["interval"]
        return {"type": "noise", "noises": noises, "snrs": snrs, "interval": opts["interval"]}
    if kind == "music":
        path, dur = pick(sources["music"])
        return {
            "type": "music",
            "noises": [path],
            "snrs": [float(pick(opts["music_snrs"]))],
            "starts": [float(rng.uniform(0, max(dur - 0.01, 0)))],
        }
    if kind == "babble":
        n = int(pick(opts["babble_speakers"]))
        return {
            "type": "babble",
            "noises": [pick(sources["speech"])[0] for _ in range(n)],
            "snrs": [float(pick(opts["babble_snrs"])) for _ in range(n)],
            "starts": [0.0] * n,
        }
    raise UsageError(f"unknown augmentation {kind!r}; valid: {', '.join(KINDS)}")


class SourceCache:
    """Noise / RIR wavs read once per process."""

    def __init__(self):
        self._data: dict[str, np.ndarray] = {}

    def get(self, path: str, sr: int) -> np.ndarray:
        if path not in self._data:
            x, rate = read_wav(path, what=f"augmentation source {path}")
            if rate != sr:
                raise AugmentError(f"augmentation source {path}: sample rate {rate}, speech has {sr}")
            self._data[path] = x[0].astype(np.float64)
        return self._data[path]


def apply_recipe(speech: np.ndarray, sr: int, recipe: dict, cache: SourceCache) -> np.ndarray:
    """The augmented version of ``speech`` (1-D, int16 scale) as described by ``recipe``."""
    kind = recipe["type"]
    if kind == "reverb":
        return reverberate(speech, cache.get(recipe["rir"], sr))
    noises = [cache.get(p, sr) for p in recipe["noises"]]
    if kind == "noise":
        return add_foreground(speech, noises, recipe["snrs"], int(recipe["interval"] * sr))
    starts = [int(s * sr) for s in recipe.get("starts", [0.0] * len(noises))]
    return add_background(speech, noises, recipe["snrs"], starts)


def augmented_rows(utt2dur: dict[str, float], kind: str, sources: dict, seed: int, opts: dict = DEFAULTS):
    """(new utt id, source utt, recipe JSON) for every utterance; seeded per (kind, utterance index)."""
    rows = []
    for i, (utt, dur) in enumerate(sorted(utt2dur.items())):
        rng = np.random.default_rng([seed, KINDS.index(kind), i])
        rows.append((f"{utt}-{kind}", utt, json.dumps(draw_recipe(kind, dur, rng, sources, opts), separators=(",", ":"))))
    return rows


def source_lists(musan: dict, rirs: dict) -> dict:
    """Sources for draw_recipe from read_musan / read_rir_list outputs (durations read from headers)."""
    import wave

    def dur(p: Path) -> float:
        try:
            with wave.open(str(p), "rb") as w:
                return w.getnframes() / w.getframerate()
        except (OSError, EOFError, wave.Error) as e:
            raise AugmentError(f"augmentation source {p}: cannot be read ({e})") from None

    out = {k: [(str(p), dur(p)) for _, p in musan[k]] for k in ("noise", "music", "speech")}
    out["rirs"] = {room: [str(p) for _, p in lst] for room, lst in rirs.items()}
    return out

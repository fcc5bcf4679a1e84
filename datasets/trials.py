"""Verification trials drawn from a data dir, and trial-dir extraction.

``sample_trials`` draws half target and half nontarget pairs, without self-pairs or duplicate
(unordered) pairs, spreading target pairs over every utterance of a speaker (not anchored on the
first one, a defect of the original). Given each utterance's recording (``recordings``: from
``segments``, or VoxCeleb-shaped ids ``<spk>-<video>-<n>``), target pairs never share a recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.datadir import utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError
from core.errors import UsageError


def recording_of(utt: str) -> str:
    return utt.rsplit("-", 1)[0]


def recordings(utt2spk: dict[str, str], segments: dict[str, str] | None = None) -> tuple[dict[str, str] | None, str]:
    """(utterance -> recording, how it was known): from ``segments`` (utt -> recording id) when given;
    else from the ids when every one has the ``<spk>-<recording>-<n>`` shape; else (None, why not)."""
    if segments is not None:
        return {u: segments[u] for u in utt2spk if u in segments}, "segments"
    for u, s in utt2spk.items():
        rest = u[len(s) + 1 :] if u.startswith(s + "-") else ""
        rec, _, n = rest.rpartition("-")
        if not rec or not n:
            return None, f"utterance id {u!r} is not <spk>-<recording>-<n>"
    return {u: recording_of(u) for u in utt2spk}, "utterance ids"


def _pairs(k: int) -> int:
    return k * (k - 1) // 2


def _same_recording_pairs(utts: list[str], rec_of: dict[str, str] | None) -> int:
    if rec_of is None:
        return 0
    per_rec: dict[str, int] = {}
    for u in utts:
        per_rec[rec_of.get(u, u)] = per_rec.get(rec_of.get(u, u), 0) + 1
    return sum(_pairs(k) for k in per_rec.values())


def _target_pairs(spk2utt, n, rng, rec_of):
    spks = [s for s, us in spk2utt.items() if len(us) >= 2]
    if not spks:
        raise DataDirError("no speaker has two utterances: cannot draw target trials")
    n = min(n, sum(_pairs(len(spk2utt[s])) - _same_recording_pairs(spk2utt[s], rec_of) for s in spks))
    pairs: set[tuple[str, str]] = set()
    attempts = 0
    while len(pairs) < n and attempts < 50 * n + 1000:  # stops once every distinct pair is drawn
        attempts += 1
        utts = spk2utt[spks[rng.integers(len(spks))]]
        i, j = rng.choice(len(utts), 2, replace=False)
        a, b = sorted((utts[i], utts[j]))
        if rec_of is not None and rec_of.get(a, a) == rec_of.get(b, b):
            continue
        pairs.add((a, b))
    return pairs


def _nontarget_pairs(utt2spk, n, rng):
    utts = list(utt2spk)
    if len(set(utt2spk.values())) < 2:
        raise DataDirError("fewer than two speakers: cannot draw nontarget trials")
    per_spk: dict[str, int] = {}
    for s in utt2spk.values():
        per_spk[s] = per_spk.get(s, 0) + 1
    n = min(n, _pairs(len(utts)) - sum(_pairs(k) for k in per_spk.values()))
    pairs: set[tuple[str, str]] = set()
    attempts = 0
    while len(pairs) < n and attempts < 50 * n + 1000:
        attempts += 1
        i, j = rng.integers(len(utts), size=2)
        if utt2spk[utts[i]] != utt2spk[utts[j]]:
            pairs.add(tuple(sorted((utts[i], utts[j]))))
    return pairs


def sample_trials(
    utt2spk: dict[str, str], num_pairs: int, seed: int = 123456, rec_of: dict[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """``num_pairs`` trials (half target), or as many distinct ones as exist; sorted. With ``rec_of``
    (utterance -> recording), target pairs never share a recording."""
    if num_pairs < 2:
        raise UsageError(f"num_pairs must be >= 2, got {num_pairs}")
    rng = np.random.default_rng(seed)
    n_tar = num_pairs // 2
    tar = sorted(_target_pairs(utt2spk_to_spk2utt(utt2spk), n_tar, rng, rec_of))
    non = sorted(_nontarget_pairs(utt2spk, num_pairs - n_tar, rng))
    if len(tar) < n_tar:  # not enough distinct target pairs: keep the list balanced
        non = [non[i] for i in sorted(rng.choice(len(non), min(len(tar), len(non)), replace=False))]
    return sorted([(a, b, "target") for a, b in tar] + [(a, b, "nontarget") for a, b in non])


def read_scores(path: Path) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """A score file of steps.score (enrol test score target|nontarget per line): (pairs, scores, labels)."""
    pairs, scores, labels = [], [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        f = line.split()
        if len(f) != 4 or f[3] not in ("target", "nontarget"):
            raise DataDirError(f"{path}:{n}: want 'enrol test score target|nontarget', got {line!r}")
        pairs.append((f[0], f[1]))
        scores.append(float(f[2]))
        labels.append(f[3] == "target")
    return pairs, np.array(scores), np.array(labels)

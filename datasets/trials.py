"""Verification trials drawn from a data dir, and trial-dir extraction.

``sample_trials`` draws half target and half nontarget pairs, without self-pairs or duplicate
(unordered) pairs, spreading target pairs over every utterance of a speaker (not anchored on the
first one, a defect of the original). With ``avoid_same_recording``, target pairs never share a
recording (VoxCeleb ids ``<spk>-<video>-<n>``: the recording is the id without its last field).
"""
from __future__ import annotations

import numpy as np

from datasets.datadir import utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError


def recording_of(utt: str) -> str:
    return utt.rsplit("-", 1)[0]


def _target_pairs(spk2utt, n, rng, avoid_same_recording):
    spks = [s for s, us in spk2utt.items() if len(us) >= 2]
    if not spks:
        raise DataDirError("no speaker has two utterances: cannot draw target trials")
    pairs: set[tuple[str, str]] = set()
    attempts = 0
    while len(pairs) < n and attempts < 50 * n + 1000:
        attempts += 1
        utts = spk2utt[spks[rng.integers(len(spks))]]
        i, j = rng.choice(len(utts), 2, replace=False)
        a, b = sorted((utts[i], utts[j]))
        if avoid_same_recording and recording_of(a) == recording_of(b):
            continue
        pairs.add((a, b))
    return pairs


def _nontarget_pairs(utt2spk, n, rng):
    utts = list(utt2spk)
    if len(set(utt2spk.values())) < 2:
        raise DataDirError("fewer than two speakers: cannot draw nontarget trials")
    pairs: set[tuple[str, str]] = set()
    attempts = 0
    while len(pairs) < n and attempts < 50 * n + 1000:
        attempts += 1
        i, j = rng.integers(len(utts), size=2)
        if utt2spk[utts[i]] != utt2spk[utts[j]]:
            pairs.add(tuple(sorted((utts[i], utts[j]))))
    return pairs


def sample_trials(utt2spk: dict[str, str], num_pairs: int, seed: int = 123456,
                  avoid_same_recording: bool = False) -> list[tuple[str, str, str]]:
    """``num_pairs`` trials (half target), or as many distinct ones as exist; sorted."""
    if num_pairs < 2:
        raise ValueError(f"num_pairs must be >= 2, got {num_pairs}")
    rng = np.random.default_rng(seed)
    n_tar = num_pairs // 2
    tar = sorted(_target_pairs(utt2spk_to_spk2utt(utt2spk), n_tar, rng, avoid_same_recording))
    non = sorted(_nontarget_pairs(utt2spk, num_pairs - n_tar, rng))
    if len(tar) < n_tar:  # not enough distinct target pairs: keep the list balanced
        non = [non[i] for i in sorted(rng.choice(len(non), min(len(tar), len(non)), replace=False))]
    return sorted([(a, b, "target") for a, b in tar] + [(a, b, "nontarget") for a, b in non])

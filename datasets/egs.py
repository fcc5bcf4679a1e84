"""Training examples (egs): fixed-length feature chunks sampled per speaker, with a held-out
validation split and a stable speaker -> label index.

Corrected against the original: chunk starts are drawn uniformly over every possible position of
the speaker's utterances (the original always started at frame 0); the validation split is seeded
and the same for the train and valid egs (no leakage).
"""
from __future__ import annotations

import numpy as np

from datasets.augment_dirs import KINDS as AUG_KINDS
from datasets.kaldi_files import DataDirError, c_key

SHORT_POLICIES = ("tile", "skip")


def label_index(speakers) -> dict[str, int]:
    """Speaker -> integer label, in C order of the speaker ids."""
    return {s: i for i, s in enumerate(sorted(set(speakers), key=c_key))}


def clean_ids(utts, kinds: tuple[str, ...] = AUG_KINDS) -> dict[str, str]:
    """utterance -> the clean utterance it is a copy of: ``<id>-<kind>`` (augment_data_dir's ids)
    when ``<id>`` is in the set too, else itself."""
    utts = set(utts)
    out = {}
    for u in utts:
        base, _, kind = u.rpartition("-")
        out[u] = base if kind in kinds and base in utts else u
    return out


def split_valid(spk2utt: dict[str, list[str]], num_valid: int, seed: int) -> tuple[dict, dict]:
    """(train spk2utt, valid spk2utt): ``num_valid`` clean utterances per speaker held out, seeded per
    speaker. The split is drawn over clean ids: a held-out utterance's augmented copies leave the
    training set too (they would leak it into validation), and validation holds the clean ones."""
    train, valid = {}, {}
    for i, (spk, utts) in enumerate(sorted(spk2utt.items(), key=lambda kv: c_key(kv[0]))):
        clean = clean_ids(utts)
        sources = sorted(set(clean.values()), key=c_key)
        if len(sources) < num_valid + 1:
            raise DataDirError(f"speaker {spk} has {len(sources)} utterance(s); --num-valid {num_valid} needs at least "
                               f"{num_valid + 1} (augmented copies count once; drop the speaker or lower --num-valid)")
        order = np.random.default_rng([seed, i, 7]).permutation(len(sources))
        held = {sources[j] for j in order[:num_valid]}
        valid[spk] = [u for u in utts if u in held]
        train[spk] = [u for u in utts if clean[u] not in held]
    return train, valid


def plan_speaker_egs(utts: list[str], lengths: dict[str, int], n_egs: int, num_frames: int,
                     rng: np.random.Generator, short_policy: str = "tile") -> tuple[list[tuple[str, int]], int]:
    """``n_egs`` (utterance, start) chunks for one speaker, and how many short utterances were skipped.

    Every possible chunk position of every utterance is equally likely: an utterance is chosen with
    probability proportional to T - num_frames + 1 and the start is uniform in [0, T - num_frames].
    Shorter utterances are tiled to ``num_frames`` (start 0, weight 1) or skipped.
    """
    if short_policy not in SHORT_POLICIES:
        raise ValueError(f"short policy {short_policy!r}; valid: {', '.join(SHORT_POLICIES)}")
    usable = [u for u in utts if lengths[u] >= num_frames or short_policy == "tile"]
    skipped = len(utts) - len(usable)
    if not usable:
        return [], skipped
    positions = np.array([max(lengths[u] - num_frames + 1, 1) for u in usable], dtype=np.float64)
    which = rng.choice(len(usable), size=n_egs, p=positions / positions.sum())
    starts = (rng.random(n_egs) * positions[which]).astype(np.int64)
    return [(usable[w], int(s)) for w, s in zip(which, starts)], skipped


def cut(mat: np.ndarray, start: int, num_frames: int) -> np.ndarray:
    """(num_frames, freq) chunk of a (time, freq) matrix; a shorter matrix is tiled along time."""
    if len(mat) < num_frames:
        reps = -(-num_frames // max(len(mat), 1))
        return np.tile(mat, (reps, 1))[:num_frames]
    return mat[start:start + num_frames]

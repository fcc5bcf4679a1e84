"""Training examples (egs): fixed-length feature chunks sampled per speaker, with a held-out
validation split and a stable speaker -> label index.

Corrected against the original: chunk starts are drawn uniformly over every possible position of
the speaker's utterances (the original always started at frame 0); the validation split is seeded
and the same for the train and valid egs (no leakage).
"""

from __future__ import annotations

import numpy as np

from datasets.augment_dirs import KINDS as AUG_KINDS
from datasets.kaldi_files import c_key
from core.errors import UsageError

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


AUTO_MIN_SOURCES = 3  # a speaker holds out only when it keeps at least 2 utterances for training
AUTO_TWO_FROM = 20  # ... and holds out two when it has this many
AUTO_MAX_SHARE = 0.10  # at most this share of all (clean) utterances is held out


def valid_counts(sources: dict[str, int], num_valid: int | None, seed: int) -> dict[str, int]:
    """Speaker -> utterances to hold out, from each speaker's clean-utterance count. ``num_valid`` per
    speaker that keeps at least one, or ``None`` (auto): 1 from speakers with 3-19 utterances, 2 from
    those with 20 or more, none from speakers with fewer than 3, and at most 10 % of all utterances
    (speakers drawn in a seeded order until the share is reached)."""
    if num_valid is not None:
        return {s: num_valid if n >= num_valid + 1 else 0 for s, n in sources.items()}
    want = {s: (2 if n >= AUTO_TWO_FROM else 1) if n >= AUTO_MIN_SOURCES else 0 for s, n in sources.items()}
    cap = max(1, int(AUTO_MAX_SHARE * sum(sources.values())))
    if sum(want.values()) <= cap:
        return want
    out, total = dict.fromkeys(sources, 0), 0
    names = sorted(sources, key=c_key)
    for i in np.random.default_rng([seed, 11]).permutation(len(names)):
        k = want[names[i]]
        if k and total + k <= cap:
            out[names[i]], total = k, total + k
    return out


def split_valid(spk2utt: dict[str, list[str]], num_valid: int | None, seed: int) -> tuple[dict, dict]:
    """(train spk2utt, valid spk2utt): per speaker the clean utterances ``valid_counts`` gives held out,
    seeded per speaker (a speaker with too few trains on all of them). The split is drawn over clean
    ids: a held-out utterance's augmented copies leave the training set too (they would leak it into
    validation), and validation holds the clean ones."""
    train, valid = {}, {}
    ordered = sorted(spk2utt.items(), key=lambda kv: c_key(kv[0]))
    clean = {spk: clean_ids(utts) for spk, utts in ordered}
    sources = {spk: sorted(set(clean[spk].values()), key=c_key) for spk, _ in ordered}
    counts = valid_counts({s: len(v) for s, v in sources.items()}, num_valid, seed)
    for i, (spk, utts) in enumerate(ordered):
        order = np.random.default_rng([seed, i, 7]).permutation(len(sources[spk]))
        held = {sources[spk][j] for j in order[: counts[spk]]}
        valid[spk] = [u for u in utts if u in held]
        train[spk] = [u for u in utts if clean[spk][u] not in held]
    return train, valid


def describe_split(valid: dict[str, list[str]], lengths: dict[str, int], num_valid: int | None) -> str:
    """One line for the log: how many utterances, speakers and what share of the audio validation took."""
    held = [u for us in valid.values() for u in us]
    share = sum(lengths.get(u, 0) for u in held) / max(sum(lengths.values()), 1)
    with_hold = sum(bool(us) for us in valid.values())
    rule = (
        f"--num-valid {num_valid} per speaker"
        if num_valid is not None
        else f"auto: 1 per speaker of {AUTO_MIN_SOURCES}-{AUTO_TWO_FROM - 1} utterances, 2 from {AUTO_TWO_FROM}, "
        f"at most {AUTO_MAX_SHARE:.0%} of the utterances"
    )
    return (
        f"validation: {len(held)} utterances ({100 * share:.1f} % of the audio) held out from {with_hold} of "
        f"{len(valid)} speakers ({rule}); {len(valid) - with_hold} speakers train without a hold-out"
    )


def plan_speaker_egs(
    utts: list[str], lengths: dict[str, int], n_egs: int, num_frames: int, rng: np.random.Generator, short_policy: str = "tile"
) -> tuple[list[tuple[str, int]], int]:
    """``n_egs`` (utterance, start) chunks for one speaker, and how many short utterances were skipped.

    Every possible chunk position of every utterance is equally likely: an utterance is chosen with
    probability proportional to T - num_frames + 1 and the start is uniform in [0, T - num_frames].
    Shorter utterances are tiled to ``num_frames`` (start 0, weight 1) or skipped.
    """
    if short_policy not in SHORT_POLICIES:
        raise UsageError(f"short policy {short_policy!r}; valid: {', '.join(SHORT_POLICIES)}")
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
    return mat[start : start + num_frames]

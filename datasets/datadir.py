"""Kaldi data directories: validation (``validate_data_dir.sh``) and repair (``fix_data_dir.sh``).

A data dir holds ``utt2spk`` + ``spk2utt`` and any of the per-utterance files below; ``wav.scp`` is
keyed by recording when ``segments`` exists. ``trials`` (``<utt1> <utt2> target|nontarget``) may sit
beside them. Everything is sorted in ``LC_ALL=C`` order with unique keys.
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets.kaldi_files import DataDirError, Entry, c_key, check_sorted_unique, parse_table

# per-utterance files: name -> (min fields, max fields, value type)
UTT_FILES = {
    "utt2spk": (1, 1, str),
    "segments": (3, 3, str),
    "feats.scp": (1, 1, str),
    "vad.scp": (1, 1, str),
    "utt2dur": (1, 1, float),
    "utt2num_frames": (1, 1, int),
    "text": (0, None, str),
    "utt2aug": (1, None, str),  # augmentation recipe (JSON), applied at feature extraction
}
SPK_FILES = ("spk2gender",)
TRIAL_LABELS = ("target", "nontarget")


def utt2spk_to_spk2utt(utt2spk: dict[str, str]) -> dict[str, list[str]]:
    """Speaker -> utterances, both in C order (what ``utt2spk_to_spk2utt.pl`` writes)."""
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):  # str order is code point order, which is UTF-8 byte order (C order): no key
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return {s: spk2utt[s] for s in sorted(spk2utt)}


def spk2utt_to_utt2spk(spk2utt: dict[str, list[str]]) -> dict[str, str]:
    return {u: s for s, utts in spk2utt.items() for u in utts}


def _check_keys(entries: list[Entry], path: Path, utts: set[str], what: str = "utterance") -> list[str]:
    """Problems for keys not in ``utts`` and for ``utts`` missing from the file."""
    problems = [f"{path}:{e.lineno}: {what} {e.key!r} is not in utt2spk" for e in entries if e.key not in utts]
    missing = utts - {e.key for e in entries}
    if missing:
        first = sorted(missing, key=c_key)[0]
        problems.append(f"{path}: {len(missing)} utterance(s) of utt2spk missing, first {first!r}")
    return problems[:10]


def _check_values(entries: list[Entry], path: Path, kind: type) -> list[str]:
    if kind is str:
        return []
    problems = []
    for e in entries:
        try:
            ok = kind(e.fields[0]) > 0
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{path}:{e.lineno}: expected a positive {kind.__name__}, got {e.fields[0]!r}")
    return problems[:10]


def _read(path: Path, lo: int, hi: int | None) -> tuple[list[Entry], list[str]]:
    entries, problems = parse_table(path, lo, hi)
    return entries, problems + check_sorted_unique(entries, path)


def _check_speakers(d: Path, u2s: list[Entry], no_spk_sort: bool) -> list[str]:
    problems = []
    if not no_spk_sort:
        by_spk = sorted(u2s, key=lambda e: (c_key(e.fields[0]), c_key(e.key)))
        for a, b in zip(u2s, by_spk):
            if a.key != b.key:
                problems.append(
                    f"{d / 'utt2spk'}:{a.lineno}: utt2spk is not sorted by speaker as well as by "
                    f"utterance (at {a.key!r}); prefix utterance ids with the speaker id"
                )
                break
    s2u_path = d / "spk2utt"
    if not s2u_path.exists():
        return problems + [f"{s2u_path}: missing (utils/utt2spk_to_spk2utt.pl {d}/utt2spk > {s2u_path})"]
    s2u, p = _read(s2u_path, 0, None)
    problems += p
    expected = utt2spk_to_spk2utt({e.key: e.fields[0] for e in u2s})
    for e in s2u:
        if not e.fields:
            problems.append(f"{s2u_path}:{e.lineno}: speaker {e.key!r} has no utterances")
        elif expected.get(e.key) != list(e.fields):
            problems.append(
                f"{s2u_path}:{e.lineno}: speaker {e.key!r} does not match utt2spk (regenerate it with utils/fix_data_dir.sh)"
            )
    extra = set(expected) - {e.key for e in s2u}
    if extra:
        problems.append(f"{s2u_path}: {len(extra)} speaker(s) of utt2spk missing, first {sorted(extra)[0]!r}")
    return problems[:12]


def _check_wavs(d: Path, utts: set[str], check_paths: bool) -> list[str]:
    wav_path, seg_path = d / "wav.scp", d / "segments"
    if not wav_path.exists():
        return [f"{wav_path}: missing (use --no-wav if this dir has no audio)"]
    wavs, problems = _read(wav_path, 1, None)
    if seg_path.exists():
        segs, p = _read(seg_path, 3, 3)
        problems += p + _check_keys(segs, seg_path, utts)
        recos = {e.key for e in wavs}
        for e in segs:
            if e.fields[0] not in recos:
                problems.append(f"{seg_path}:{e.lineno}: recording {e.fields[0]!r} is not in wav.scp")
            try:
                if not 0 <= float(e.fields[1]) < float(e.fields[2]):
                    problems.append(f"{seg_path}:{e.lineno}: need 0 <= start < end, got {e.fields[1:]}")
            except ValueError:
                problems.append(f"{seg_path}:{e.lineno}: start/end are not numbers: {e.fields[1:]}")
    else:
        problems += _check_keys(wavs, wav_path, utts)
    if check_paths:
        for e in wavs:
            if not e.value.endswith("|") and not os.path.isfile(e.value):
                problems.append(f"{wav_path}:{e.lineno}: wav file not found: {e.value}")
    return problems[:20]


def check_trials(path: Path, utts: set[str] | None) -> list[str]:
    """Problems of a trials file; ``utts`` (when given) is the set the trials may name."""
    entries, problems = parse_table(path, 2, 2)
    seen: dict[tuple[str, str], int] = {}
    for e in entries:
        if e.fields[1] not in TRIAL_LABELS:
            problems.append(f"{path}:{e.lineno}: label must be target or nontarget, got {e.fields[1]!r}")
        for u in (e.key, e.fields[0]):
            if utts is not None and u not in utts:
                problems.append(f"{path}:{e.lineno}: utterance {u!r} is not in this data dir")
        if e.key == e.fields[0]:
            problems.append(f"{path}:{e.lineno}: self-pair: {e.key!r} against itself (a trivial target)")
        pair = (e.key, e.fields[0])
        if pair in seen:
            problems.append(f"{path}:{e.lineno}: duplicate trial (first on line {seen[pair]})")
        seen.setdefault(pair, e.lineno)
        if len(problems) >= 10:
            break
    return problems


# written by feature extraction, which replaces them: it validates the dir without them
FEATURE_FILES = ("feats.scp", "utt2num_frames", "utt2dur", "vad.scp")


def validate_data_dir(
    d: str | Path,
    no_feats: bool = False,
    no_wav: bool = False,
    no_spk_sort: bool = False,
    check_paths: bool = True,
    no_feat_files: bool = False,
) -> list[str]:
    """Every problem found, as ``file:line: message``; an empty list means valid."""
    d = Path(d)
    if not d.is_dir():
        return [f"{d}: not a directory"]
    u2s_path = d / "utt2spk"
    if not u2s_path.exists():
        return [f"{u2s_path}: missing"]
    u2s, problems = _read(u2s_path, 1, 1)
    if not u2s:
        return problems
    utts = {e.key for e in u2s}
    problems += _check_speakers(d, u2s, no_spk_sort)
    if not no_wav:
        problems += _check_wavs(d, utts, check_paths)
    if not no_feats and not (d / "feats.scp").exists():
        problems.append(f"{d / 'feats.scp'}: missing (use --no-feats before feature extraction)")
    for name, (lo, hi, kind) in UTT_FILES.items():
        path = d / name
        if name in ("utt2spk", "segments") or not path.exists() or (no_feat_files and name in FEATURE_FILES):
            continue
        entries, p = _read(path, lo, hi)
        problems += p + _check_keys(entries, path, utts) + _check_values(entries, path, kind)
    if (d / "spk2gender").exists():
        problems += _check_spk2gender(d / "spk2gender", {e.fields[0] for e in u2s})
    if (d / "trials").exists():
        problems += check_trials(d / "trials", utts)
    return problems


def _check_spk2gender(path: Path, speakers: set[str]) -> list[str]:
    """Kaldi's rule: one line per speaker of utt2spk, with m or f."""
    entries, problems = _read(path, 1, 1)
    problems += [
        f"{path}:{e.lineno}: gender {e.fields[0]!r} of {e.key!r} is not m or f" for e in entries if e.fields[0] not in ("m", "f")
    ]
    problems += [f"{path}:{e.lineno}: speaker {e.key!r} is not in utt2spk" for e in entries if e.key not in speakers]
    missing = speakers - {e.key for e in entries}
    if missing:
        problems.append(f"{path}: {len(missing)} speaker(s) of utt2spk missing, first {sorted(missing, key=c_key)[0]!r}")
    return problems[:10]


def assert_valid(d: str | Path, **kw) -> None:
    problems = validate_data_dir(d, **kw)
    if problems:
        raise DataDirError("\n".join(problems))

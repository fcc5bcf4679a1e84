"""Subsets and ``--nj`` splits of a data dir (``subset_data_dir.sh``, ``split_data.sh``).

A split by speaker keeps every speaker in exactly one part, with contiguous speaker blocks balanced
by utterance count (Kaldi ``split_scp.pl --utt2spk``); ``per_utt`` splits utterances evenly.
Parts are ``<dir>/split<N>[utt]/<1..N>``, each a complete data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from datasets.datadir import UTT_FILES, utt2spk_to_spk2utt
from core.atomic import atomic_write_bytes
from datasets.kaldi_files import DataDirError, c_key, format_table, read_key_values, read_pairs

# files filtered by utterance (wav.scp too when there is no segments file) and by speaker
from core.atomic import atomic_write_text

_BY_UTT = [n for n in UTT_FILES if n != "utt2spk"] + ["utt2lang"]
_BY_SPK = ["spk2gender", "cmvn.scp"]


def check_nj(nj) -> int:
    """``--nj`` as a positive int, or a clear error."""
    try:
        n = int(str(nj))
    except ValueError:
        raise DataDirError(f"invalid --nj {nj!r}: must be a positive integer") from None
    if n < 1:
        raise DataDirError(f"invalid --nj {nj!r}: must be a positive integer")
    return n


def subset_data_dir(
    src: str | Path, dst: str | Path, utts: Iterable[str] | None = None, spks: Iterable[str] | None = None
) -> int:
    """Write the data dir ``dst`` holding the given utterances (or all of the given speakers'
    utterances). Returns the number of utterances kept; unknown ids are an error."""
    src, dst = Path(src), Path(dst)
    u2s = dict(zip(*read_pairs(src / "utt2spk")))
    if spks is not None:
        spks = set(spks)
        unknown = spks - set(u2s.values())
        if unknown:
            raise DataDirError(f"{src}/utt2spk: unknown speaker(s) {sorted(unknown)[:5]}")
        keep = {u for u, s in u2s.items() if s in spks}
    else:
        keep = set(utts or [])
        unknown = keep - set(u2s)
        if unknown:
            raise DataDirError(f"{src}/utt2spk: unknown utterance(s) {sorted(unknown)[:5]}")
    if not keep:
        raise DataDirError(f"subset of {src} would be empty")
    _write_parts(src, [dst], dict.fromkeys(sorted(keep), 0), u2s)
    return len(keep)


def _route(src: Path, name: str, dests: list[Path], parts: dict[str, tuple[int, ...]]) -> None:
    """Each line of ``src/name`` to the parts its key belongs to, in one pass over the file (a key of no
    part is dropped); every dest gets the file, empty when none of its keys is there."""
    path = src / name
    if not path.exists():
        return
    bufs: list[list[str]] = [[] for _ in dests]
    keys, vals, i = list(parts), list(parts.values()), 0  # a file in this key order needs no hash look-up
    with open(path, encoding="utf-8", newline="") as f:
        for n, line in enumerate(f, 1):
            fields = line.split(maxsplit=1)
            if not fields or line[-1] != "\n" or line[-2:-1] == "\r":
                raise DataDirError(
                    f"{path}:{n}: an empty line, a CRLF ending or no final newline (utils/fix_data_dir.sh repairs it)"
                )
            if len(fields) == 1:
                line = f"{fields[0]}\n"
            elif len(fields[0]) + 1 + len(fields[1]) != len(line) or line[len(fields[0])] != " " or fields[1][-2:-1].isspace():
                line = f"{fields[0]} {fields[1].strip()}\n"  # blanks made regular, as Kaldi writes them
            if i < len(keys) and keys[i] == fields[0]:
                js, i = vals[i], i + 1
            else:
                js = parts.get(fields[0], ())
            for j in js:
                bufs[j].append(line)
    for dest, buf in zip(dests, bufs):
        atomic_write_text(dest / name, "".join(buf))


def _write_parts(src: Path, dests: list[Path], part_of: dict[str, int], u2s: dict[str, str]) -> None:
    """Data dirs ``dests``: dest j holds the utterances whose ``part_of`` is j; one pass per file."""
    for dest in dests:
        dest.mkdir(parents=True, exist_ok=True)
    by_utt = {u: (j,) for u, j in part_of.items()}
    spk_parts: dict[str, set[int]] = {}
    for u, j in part_of.items():
        spk_parts.setdefault(u2s[u], set()).add(j)
    _route(src, "utt2spk", dests, by_utt)
    subs: list[dict[str, str]] = [{} for _ in dests]
    for u, j in part_of.items():
        subs[j][u] = u2s[u]
    for dest, sub in zip(dests, subs):
        atomic_write_text(dest / "spk2utt", format_table((s, " ".join(us)) for s, us in utt2spk_to_spk2utt(sub).items()))
    for name in _BY_UTT:
        _route(src, name, dests, by_utt)
    for name in _BY_SPK:
        _route(src, name, dests, {s: tuple(sorted(js)) for s, js in spk_parts.items()})
    if (src / "segments").exists():  # wav.scp by recording: a recording goes wherever one of its segments went
        reco_parts: dict[str, set[int]] = {}
        for j, dest in enumerate(dests):
            for line in (dest / "segments").read_text(encoding="utf-8").splitlines():
                reco_parts.setdefault(line.split()[1], set()).add(j)
        _route(src, "wav.scp", dests, {r: tuple(sorted(js)) for r, js in reco_parts.items()})
    else:
        _route(src, "wav.scp", dests, by_utt)
    for dest in dests:
        if (src / "frame_shift").exists():
            atomic_write_text(dest / "frame_shift", (src / "frame_shift").read_text())


def _balanced_blocks(weights: list[int], n: int) -> list[tuple[int, int]]:
    """Cut ``weights`` into ``n`` contiguous non-empty blocks of near-equal total weight."""
    total, bounds, start = sum(weights), [], 0
    acc = 0
    for part in range(1, n):
        target = total * part / n
        end = start + 1
        acc += weights[start]
        # extend while closer to the target and enough items stay for the remaining parts
        while end < len(weights) - (n - part) and abs(acc + weights[end] - target) <= abs(acc - target):
            acc += weights[end]
            end += 1
        bounds.append((start, end))
        start = end
    bounds.append((start, len(weights)))
    return bounds


def split_data(d: str | Path, nj, per_utt: bool = False) -> list[Path]:
    """Split ``d`` into ``nj`` parts; reuse an existing split newer than its sources."""
    d, n = Path(d), check_nj(nj)
    root = d / f"split{n}{'utt' if per_utt else ''}"
    parts = [root / str(j) for j in range(1, n + 1)]
    sources = [d / f for f in ["utt2spk", "wav.scp", *_BY_UTT, *_BY_SPK] if (d / f).exists()]
    newest = max(p.stat().st_mtime for p in sources)
    if all((p / "utt2spk").exists() and (p / "utt2spk").stat().st_mtime >= newest for p in parts):
        return parts
    u2s = dict(zip(*read_pairs(d / "utt2spk")))
    if per_utt:
        units = [[u] for u in u2s]
        what = "utterances"
    else:
        units = list(utt2spk_to_spk2utt(u2s).values())
        what = "speakers"
    if n > len(units):
        raise DataDirError(
            f"split_data: cannot split {d} into {n} parts: it has only {len(units)} {what}"
            + ("" if per_utt else " (use --per-utt)")
        )
    part_of = {u: j for j, (a, b) in enumerate(_balanced_blocks([len(x) for x in units], n)) for unit in units[a:b] for u in unit}
    _write_parts(d, parts, part_of, u2s)
    return parts


def combine_data_dirs(dest: str | Path, sources: list[str | Path]) -> int:
    """Kaldi ``combine_data.sh``: the union of data dirs with disjoint utterance ids. Per-utterance
    files are combined when every source has them (a partial file would make the dir invalid)."""
    dest, sources = Path(dest), [Path(s) for s in sources]
    u2s: dict[str, str] = {}
    for s in sources:
        part = dict(zip(*read_pairs(s / "utt2spk")))
        dup = set(part) & set(u2s)
        if dup:
            raise DataDirError(f"{s}/utt2spk: utterance ids also in another source, first {sorted(dup)[0]!r}")
        u2s.update(part)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ["utt2spk", "wav.scp", *_BY_UTT]:
        if all((s / name).exists() for s in sources):
            rows = [r for s in sources for r in read_key_values(s / name)]
            rows.sort()  # str order is C (UTF-8 byte) order; keys are unique across the sources
            atomic_write_text(dest / name, "".join(f"{k} {v}\n" if v else f"{k}\n" for k, v in rows))
        else:
            (dest / name).unlink(missing_ok=True)
    atomic_write_text(dest / "spk2utt", format_table((s, " ".join(us)) for s, us in utt2spk_to_spk2utt(u2s).items()))
    if (sources[0] / "frame_shift").exists():
        atomic_write_text(dest / "frame_shift", (sources[0] / "frame_shift").read_text())
    _combine_feature_record(dest, sources)
    return len(u2s)


def _combine_feature_record(dest: Path, sources: list[Path]) -> None:
    """conf/feats.conf + conf/feat_type (what make_<type>.sh records) when every source has the same."""
    for name in ("feats.conf", "feat_type"):
        texts = {(s / "conf" / name).read_bytes() if (s / "conf" / name).exists() else None for s in sources}
        if len(texts) > 1 and None not in texts:
            raise DataDirError(
                f"{dest}: the sources' features were made with different options (conf/{name} "
                "differs); features of one kind only can be combined"
            )
        if len(texts) == 1 and None not in texts:
            atomic_write_bytes(dest / "conf" / name, texts.pop())
        else:
            (dest / "conf" / name).unlink(missing_ok=True)


def sample_per_speaker(u2s: dict[str, str], k: int, seed: int) -> list[str]:
    """k utterances per speaker without replacement (all when fewer), seeded per speaker, in Kaldi order."""
    out = []
    for i, utts in enumerate(utt2spk_to_spk2utt(u2s).values()):
        pick = np.random.default_rng([seed, i]).permutation(len(utts))[:k]
        out += [utts[j] for j in sorted(pick)]
    return sorted(out, key=c_key)

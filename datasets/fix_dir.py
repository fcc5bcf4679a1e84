"""``fix_data_dir.sh``: sort, de-duplicate, intersect utterance lists, regenerate spk2utt.

Like Kaldi's, it keeps only utterances present in every per-utterance file, drops speakers and
recordings left without utterances, and backs up what it changes to ``<dir>/.backup``. Unlike
Kaldi's it also normalises CRLF / stray blanks, drops ``trials`` lines that name removed utterances,
have a bad label, pair an utterance with itself or repeat a pair, refuses a key given two values,
says how many lines each file lost, and never rewrites a file whose content does not change.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from datasets.datadir import TRIAL_LABELS, UTT_FILES, utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError, format_table, parse_table
from core.atomic import atomic_write_text


def _fields_ok(rest: str, lo: int, hi: int | None) -> bool:
    """Whether the text after a key has lo..hi fields (hi None: no upper bound)."""
    if lo == hi == 1:
        return rest != "" and len(rest.split(None, 1)) == 1
    n = len(rest.split())
    return n >= lo and (hi is None or n <= hi)


def _lenient(path: Path, lo: int, hi: int | None, counts: dict[str, int]) -> dict[str, str]:
    """key -> value, one per key; blank lines, CRLF, stray blanks, malformed lines and exact duplicates
    are dropped. A key given two different values (an utterance with two speakers or two wavs) is an
    error naming both lines: which one is right cannot be guessed. Read line by line into plain
    strings: no object per line. Its count of non-blank lines goes to ``counts[path.name]``."""
    table: dict[str, str] = {}
    n = 0
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}: not UTF-8 text (byte {e.start})") from None
    for line in lines:
        parts = line.split(None, 1)
        if not parts:
            continue
        n += 1
        rest = parts[1].strip() if len(parts) > 1 else ""
        if _fields_ok(rest, lo, hi) and table.setdefault(parts[0], rest) != rest:
            raise _conflict(path, lines, parts[0], rest, table[parts[0]])
    if not table and any(line.strip() for line in lines):
        entries, problems = parse_table(path, lo, hi, lenient=True)  # its messages name the lines
        raise DataDirError("\n".join(problems))
    counts[path.name] = n
    return table


def _conflict(path: Path, lines: list[str], key: str, value: str, first: str) -> DataDirError:
    """The error for ``key`` given ``value`` after ``first``, naming the lines of both."""

    def rest(line: str) -> str:
        parts = line.split(None, 1)
        return parts[1].strip() if len(parts) > 1 else ""

    at = [n for n, line in enumerate(lines, 1) if line.split(None, 1)[:1] == [key]]
    first_at = next(n for n in at if rest(lines[n - 1]) == first)
    again_at = next(n for n in at if rest(lines[n - 1]) == value)
    return DataDirError(
        f"{path}:{again_at}: {key!r} again with another value ({value!r}; line {first_at} has "
        f"{first!r}); fix it by hand (nothing written)"
    )


def _fixed_trials(path: Path, utts: set[str]) -> str:
    """Trials naming kept utterances, with a valid label, not a self-pair, each pair once."""
    entries, _ = parse_table(path, 2, 2, lenient=True)
    seen, rows = set(), []
    for e in entries:
        pair = (e.key, e.fields[0])
        if e.key in utts and e.fields[0] in utts and e.fields[1] in TRIAL_LABELS and e.key != e.fields[0] and pair not in seen:
            seen.add(pair)
            rows.append((e.key, *e.fields))
    return format_table(rows)


def _nonblank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())


def _text(table: dict[str, str], kept: set[str]) -> str:
    """The table's lines for the ``kept`` keys (a subset of its keys), in C order (str order is UTF-8
    byte order). When every key is kept, no key is looked up."""
    keys = sorted(table) if len(kept) == len(table) else sorted(k for k in table if k in kept)
    return "".join(f"{k} {table[k]}\n" if table[k] else f"{k}\n" for k in keys)


def _same_keys(tables: dict, wavs: dict | None, genders: dict | None) -> bool:
    """Whether every table has utt2spk's keys in utt2spk's order (and wav.scp too, without segments), and
    every speaker a gender line: then every utterance is kept. Comparing key lists in file order walks
    memory in order, where a million set look-ups miss the CPU's caches."""
    order = list(tables["utt2spk"])
    if wavs is not None:
        if "segments" in tables:
            return False
        tables = {**tables, "wav.scp": wavs}
    if any(len(t) != len(order) or list(t) != order for t in tables.values()):
        return False
    return genders is None or set(tables["utt2spk"].values()) <= genders.keys()


def _kept(tables: dict, wavs: dict | None, genders: dict | None) -> tuple[set, set | None]:
    """(utterances present in every table, with a recording in wav.scp and a speaker in spk2gender when
    those exist; their recordings)."""
    reco = (lambda u: tables["segments"][u].split()[0]) if "segments" in tables else (lambda u: u)
    utts = set(tables["utt2spk"])
    for table in tables.values():
        utts &= table.keys()
    if wavs is not None:
        utts = {u for u in utts if reco(u) in wavs}
    if genders is not None:  # as Kaldi: a speaker without a gender line is dropped
        utts = {u for u in utts if tables["utt2spk"][u] in genders}
    return utts, ({reco(u) for u in utts} if wavs is not None else None)


def _plan(d: Path):
    """(name -> a function giving the new content of that file, the lines each file had before, the
    kept utterances' speakers): the tables are read once, each text is made when it is written."""
    if not (d / "utt2spk").exists():
        raise DataDirError(f"{d / 'utt2spk'}: missing")
    here = {name for name in [*UTT_FILES, "wav.scp", "spk2utt", "spk2gender", "trials"] if (d / name).exists()}
    before = {name: _nonblank_lines(d / name) for name in ("spk2utt", "trials") if name in here}  # the rest: _lenient
    tables = {name: _lenient(d / name, lo, hi, before) for name, (lo, hi, _) in UTT_FILES.items() if name in here}
    wavs = _lenient(d / "wav.scp", 1, None, before) if "wav.scp" in here else None
    if wavs is not None:  # a plain path to no file: make_spect.sh skipped it and sent the user here
        missing = sorted(k for k, v in wavs.items() if not v.strip().endswith("|") and not os.path.isfile(v.strip()))
        if missing:
            print(
                f"fix_data_dir: {d}/wav.scp: {len(missing)} recording(s) whose file does not exist are dropped, "
                f"first {missing[0]!r} ({wavs[missing[0]].strip()})",
                file=sys.stderr,
            )
            for k in missing:
                del wavs[k]
    genders = _lenient(d / "spk2gender", 1, 1, before) if "spk2gender" in here else None
    if _same_keys(tables, wavs, genders):  # the usual case: every file lists every utterance, so none is dropped
        utts = u2s = tables["utt2spk"]  # a dict serves as the set: no set of a million keys to build
        recos = wavs
    else:
        utts, recos = _kept(tables, wavs, genders)
        u2s = {u: s for u, s in tables["utt2spk"].items() if u in utts}  # in file order: sorting a sorted file is linear
    if not utts:
        raise DataDirError(f"{d}: no utterance is present in every file; nothing written")
    out = {name: (lambda t=t: _text(t, utts)) for name, t in tables.items()}
    if wavs is not None:
        out["wav.scp"] = lambda: _text(wavs, recos)
    if genders is not None:
        out["spk2gender"] = lambda: _text(genders, set(u2s.values()) & genders.keys())
    out["spk2utt"] = lambda: format_table((s, " ".join(us)) for s, us in utt2spk_to_spk2utt(u2s).items())
    if "trials" in here:
        out["trials"] = lambda: _fixed_trials(d / "trials", utts)
    return out, before, u2s


def fix_data_dir(d: str | Path) -> list[str]:
    """Repair ``d`` in place; return one report line per changed file."""
    d = Path(d)
    out, before, u2s = _plan(d)
    spk_order = [u2s[u] for u in sorted(u2s)]
    if spk_order != sorted(spk_order):
        raise DataDirError(
            f"{d / 'utt2spk'}: sorting by utterance does not sort by speaker; prefix "
            "utterance ids with the speaker id (nothing written)"
        )
    report = []
    for name, make in out.items():
        text, path = make(), d / name
        old = path.read_bytes() if path.exists() else None
        if old == text.encode("utf-8"):
            continue
        if old is not None:
            (d / ".backup").mkdir(exist_ok=True)
            shutil.copy2(path, d / ".backup" / name)
        atomic_write_text(path, text)
        kept = text.count("\n")
        was = before.get(name, 0)
        dropped = f", dropped {was - kept}" if was > kept else ""
        report.append(f"{name}: rewrote, {kept} lines{dropped}" if old is not None else f"{name}: created, {kept} lines")
    return report or ["nothing to change"]

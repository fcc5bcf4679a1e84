"""``fix_data_dir.sh``: sort, de-duplicate, intersect utterance lists, regenerate spk2utt.

Like Kaldi's, it keeps only utterances present in every per-utterance file, drops speakers and
recordings left without utterances, and backs up what it changes to ``<dir>/.backup``. Unlike
Kaldi's it also normalises CRLF / stray blanks, drops ``trials`` lines that name removed utterances,
have a bad label, pair an utterance with itself or repeat a pair, refuses a key given two values,
says how many lines each file lost, and never rewrites a file whose content does not change.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from datasets.datadir import TRIAL_LABELS, UTT_FILES, utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError, Entry, c_key, format_table, parse_table
from core.atomic import atomic_write_text


def _lenient(path: Path, lo: int, hi: int | None) -> dict[str, Entry]:
    """One entry per key; malformed lines and exact duplicates are dropped. A key given two different
    values (an utterance with two speakers or two wavs) is an error naming both lines: which one is
    right cannot be guessed."""
    entries, problems = parse_table(path, lo, hi, lenient=True)
    if problems and not entries:
        raise DataDirError("\n".join(problems))
    table: dict[str, Entry] = {}
    for e in entries:
        first = table.setdefault(e.key, e)
        if first.value != e.value:
            raise DataDirError(f"{path}:{e.lineno}: {e.key!r} again with another value ({e.value!r}; line "
                               f"{first.lineno} has {first.value!r}); fix it by hand (nothing written)")
    return table


def _fixed_trials(path: Path, utts: set[str]) -> str:
    """Trials naming kept utterances, with a valid label, not a self-pair, each pair once."""
    entries, _ = parse_table(path, 2, 2, lenient=True)
    seen, rows = set(), []
    for e in entries:
        pair = (e.key, e.fields[0])
        if e.key in utts and e.fields[0] in utts and e.fields[1] in TRIAL_LABELS and e.key != e.fields[0] \
                and pair not in seen:
            seen.add(pair)
            rows.append((e.key, *e.fields))
    return format_table(rows)


def _nonblank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())


def _rows(table: dict[str, Entry], keep) -> list[tuple[str, str]]:
    return [(k, table[k].value) for k in sorted(table, key=c_key) if keep(k)]


def _plan(d: Path) -> tuple[dict[str, str], dict[str, int]]:
    """New content of every file that fix handles, and the lines each had before."""
    if not (d / "utt2spk").exists():
        raise DataDirError(f"{d / 'utt2spk'}: missing")
    names = [*UTT_FILES, "wav.scp", "spk2utt", "trials"]
    before = {name: _nonblank_lines(d / name) for name in names if (d / name).exists()}
    tables = {name: _lenient(d / name, lo, hi) for name, (lo, hi, _) in UTT_FILES.items() if name in before}
    wavs = _lenient(d / "wav.scp", 1, None) if "wav.scp" in before else None
    if wavs is not None:  # a plain path to no file: make_spect.sh skipped it and sent the user here
        missing = sorted(k for k, e in wavs.items() if not e.value.strip().endswith("|") and not Path(e.value.strip()).is_file())
        if missing:
            print(f"fix_data_dir: {d}/wav.scp: {len(missing)} recording(s) whose file does not exist are dropped, "
                  f"first {missing[0]!r} ({wavs[missing[0]].value.strip()})", file=sys.stderr)
            gone = set(missing)  # built once: inside the comprehension it made the fix quadratic
            wavs = {k: e for k, e in wavs.items() if k not in gone}
    utts = set(tables["utt2spk"])
    for table in tables.values():
        utts &= set(table)
    if wavs is not None:
        if "segments" in tables:
            utts = {u for u in utts if tables["segments"][u].fields[0] in wavs}
        else:
            utts &= set(wavs)
    if not utts:
        raise DataDirError(f"{d}: no utterance is present in every file; nothing written")
    out = {name: format_table(_rows(t, utts.__contains__)) for name, t in tables.items()}
    if wavs is not None:
        recos = ({tables["segments"][u].fields[0] for u in utts} if "segments" in tables else utts)
        out["wav.scp"] = format_table(_rows(wavs, recos.__contains__))
    u2s = {u: tables["utt2spk"][u].fields[0] for u in utts}
    s2u = utt2spk_to_spk2utt(u2s)
    out["spk2utt"] = format_table((s, " ".join(us)) for s, us in s2u.items())
    if "trials" in before:
        out["trials"] = _fixed_trials(d / "trials", utts)
    return out, before


def fix_data_dir(d: str | Path) -> list[str]:
    """Repair ``d`` in place; return one report line per changed file."""
    d = Path(d)
    out, before = _plan(d)
    spk_order = [line.split()[1] for line in out["utt2spk"].splitlines()]
    if spk_order != sorted(spk_order, key=c_key):
        raise DataDirError(f"{d / 'utt2spk'}: sorting by utterance does not sort by speaker; prefix "
                           "utterance ids with the speaker id (nothing written)")
    report = []
    for name, text in out.items():
        path = d / name
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

"""Kaldi text tables (``<key> <value...>`` per line): strict reading, C-order checks, writing a table.

Every reader reports problems as ``<file>:<line>: <message>`` so that a user can open the file at
the offending line. Keys are compared as UTF-8 bytes, which is ``LC_ALL=C`` sort order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from core.atomic import atomic_write_text
from core.errors import GfaError


class DataDirError(GfaError, ValueError):
    """Bad data-directory content; the message names file and line."""


class Entry(NamedTuple):  # a tuple, not a dataclass: millions of lines cost a third of the memory and time
    key: str
    fields: tuple[str, ...]  # the fields after the key
    lineno: int
    value: str = ""  # the rest of the line after the key, verbatim (wav.scp pipes keep their spacing)


def c_key(s: str) -> bytes:
    """Sort key equal to ``LC_ALL=C sort``."""
    return s.encode("utf-8")


def _table_lines(path: Path, lenient: bool) -> tuple[list[str], list[str]]:
    """(lines, problems) of a UTF-8 text file: unreadable, not UTF-8, empty, or no final newline."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return [], [f"{path}: cannot read ({e.strerror})"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return [], [f"{path}: not UTF-8 text (byte {e.start})"]
    if not text.strip():
        return [], [f"{path}: file is empty"]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, []
    return lines, [] if lenient else [f"{path}:{len(lines)}: last line has no newline"]


def _fields_wanted(min_fields: int, max_fields: int | None) -> str:
    if max_fields is not None and max_fields != min_fields:
        return f"{min_fields}-{max_fields}"
    return f"{min_fields}" if max_fields == min_fields else f">= {min_fields}"


def parse_table(
    path: str | Path, min_fields: int = 1, max_fields: int | None = None, lenient: bool = False
) -> tuple[list[Entry], list[str]]:
    """Read a Kaldi table; return (entries, problems).

    ``min_fields``/``max_fields`` count the fields after the key. With ``lenient`` the formatting
    problems a fix can repair (CRLF, stray blanks, empty lines) are not reported.
    """
    path = Path(path)
    entries: list[Entry] = []
    lines, problems = _table_lines(path, lenient)
    for lineno, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            if not lenient:
                problems.append(f"{path}:{lineno}: CRLF line ending")
            line = line[:-1]
        stripped = line.strip()
        if not stripped or line != stripped:
            if not lenient:
                problems.append(f"{path}:{lineno}: " + ("leading or trailing blanks" if stripped else "empty line"))
            if not stripped:
                continue
        parts = stripped.split()
        nf = len(parts) - 1
        if nf < min_fields or (max_fields is not None and nf > max_fields):
            want = _fields_wanted(min_fields, max_fields)
            problems.append(f"{path}:{lineno}: expected key + {want} fields, got {nf}: {stripped[:80]!r}")
            continue
        entries.append(Entry._make((parts[0], tuple(parts[1:]), lineno, stripped[len(parts[0]) :].strip())))
    if len(problems) > 20:
        problems = problems[:20] + [f"{path}: ... and {len(problems) - 20} more problems"]
    return entries, problems


def check_sorted_unique(entries: Sequence[Entry], path: str | Path) -> list[str]:
    """Problems for keys that repeat or are out of ``LC_ALL=C`` order (first few only)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    prev: Entry | None = None
    for e in entries:
        if e.key in seen:
            problems.append(f"{path}:{e.lineno}: duplicate key {e.key!r} (first on line {seen[e.key]})")
        else:
            seen[e.key] = e.lineno
            if prev is not None and c_key(e.key) < c_key(prev.key):
                problems.append(f"{path}:{e.lineno}: not sorted (LC_ALL=C): {e.key!r} after {prev.key!r}")
            prev = e
        if len(problems) >= 10:
            problems.append(f"{path}: ... (more problems not shown)")
            break
    return problems


def read_table(path: str | Path, min_fields: int = 1, max_fields: int | None = None, sorted_unique: bool = True) -> list[Entry]:
    """Strict read: raise :class:`DataDirError` listing every problem."""
    entries, problems = parse_table(path, min_fields, max_fields)
    if sorted_unique and not problems:
        problems = check_sorted_unique(entries, path)
    if problems:
        raise DataDirError("\n".join(problems))
    return entries


def read_dict(path: str | Path, min_fields: int = 1, max_fields: int | None = 1) -> dict[str, str]:
    """``key -> value`` (value = rest of the line), strict."""
    return {e.key: e.value for e in read_table(path, min_fields, max_fields)}


def read_key_values(path: str | Path) -> list[tuple[str, str]]:
    """(key, rest of the line) of a table whose keys are unique and in C order, read line by line
    without an object per line beyond the pair; DataDirError naming the file and line."""
    rows: list[tuple[str, str]] = []
    prev = None
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for n, line in enumerate(f, 1):
                fields = line.split(maxsplit=1)
                if not fields or not line.endswith("\n") or line.endswith("\r\n") or line[0].isspace():
                    raise DataDirError(f"{path}:{n}: an empty line, leading blanks, a CRLF ending or no final newline")
                if prev is not None and fields[0] <= prev:
                    what = "duplicate key" if fields[0] == prev else "not sorted (LC_ALL=C):"
                    raise DataDirError(f"{path}:{n}: {what} {fields[0]!r} after {prev!r}")
                prev = fields[0]
                rows.append((fields[0], fields[1].strip() if len(fields) > 1 else ""))
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}: not UTF-8 text (byte {e.start} of a block)") from None
    return rows


def read_pairs(path: str | Path) -> tuple[list[str], list[str]]:
    """(keys, values) of a two-column table whose keys are unique and in C order, read without an
    object per line (for tables of millions of lines: egs); DataDirError naming the file and line."""
    keys: list[str] = []
    values: list[str] = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 2 or not line.endswith("\n") or line.endswith("\r\n"):
                    raise DataDirError(f"{path}:{n}: expected '<key> <value>' and a newline, got {line.strip()[:80]!r}")
                if keys and parts[0] <= keys[-1]:  # str order is code-point order, which is UTF-8 byte order
                    what = "duplicate key" if parts[0] == keys[-1] else "not sorted (LC_ALL=C):"
                    raise DataDirError(f"{path}:{n}: {what} {parts[0]!r} after {keys[-1]!r}")
                keys.append(parts[0])
                values.append(parts[1])
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}: not UTF-8 text (byte {e.start} of a block)") from None
    except OSError as e:
        raise DataDirError(f"{path}: cannot read ({e.strerror})") from None
    return keys, values


def format_table(rows: Iterable[tuple[str, ...] | list[str]]) -> str:
    return "".join(" ".join(r) + "\n" for r in rows)


def write_table(path: str | Path, rows: Iterable[tuple[str, ...] | list[str]]) -> None:
    """Atomically write rows (key first) as space-separated lines."""
    atomic_write_text(path, format_table(rows))


def sort_rows(rows: Iterable[Sequence[str]]) -> list[Sequence[str]]:
    return sorted(rows, key=lambda r: c_key(r[0]))

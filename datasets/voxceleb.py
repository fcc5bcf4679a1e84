"""VoxCeleb1/2 data dirs from the published layouts, and the official trial lists as Kaldi trials.

VoxCeleb1: ``<root>/wav/<spk>/<video>/<n>.wav``; VoxCeleb2: ``<root>/aac/<spk>/<video>/<n>.m4a``
(wav.scp pipes through ffmpeg, as Kaldi's ``make_voxceleb2.pl``). Utterance ids are
``<spk>-<video>-<n>`` (Kaldi v2), which sort by speaker. Official lists
(``veri_test2.txt``, ``list_test_all2.txt``, ``list_test_hard2.txt``) have lines
``<1|0> <spk>/<video>/<n>.wav <spk>/<video>/<n>.wav``.
"""

from __future__ import annotations

import csv
import shlex
from pathlib import Path

from datasets.datadir import utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError, c_key, format_table
from core.atomic import atomic_write_text
from core.errors import UsageError

# the 40 speakers of the official VoxCeleb1 verification test split (vox1_meta.csv "Set" = test)
VOX1_TEST_SPEAKERS = frozenset(f"id{n}" for n in range(10270, 10310))
FFMPEG = "ffmpeg -v 8 -i {} -f wav -acodec pcm_s16le -|"


def utt_id(rel: str) -> str:
    """``id10270/5r0dWxy17C8/00001.wav`` -> ``id10270-5r0dWxy17C8-00001``."""
    parts = Path(rel).with_suffix("").parts
    if len(parts) != 3:
        raise UsageError(f"expected <spk>/<video>/<n>.<ext>, got {rel!r}")
    return "-".join(parts)


def scan(root: str | Path, sub: str, ext: str) -> list[tuple[str, str, Path]]:
    """(utt, spk, path) for ``<root>/<sub>/<spk>/<video>/<n>.<ext>``, C-sorted by utt."""
    base = Path(root) / sub
    if not base.is_dir():
        raise DataDirError(f"{base}: not found; expected the layout {sub}/<spk>/<video>/<n>.{ext}")
    found = []
    for path in base.glob(f"*/*/*.{ext}"):
        rel = path.relative_to(base).as_posix()
        found.append((utt_id(rel), rel.split("/")[0], path.resolve()))
    if not found:
        raise DataDirError(f"{base}: no *.{ext} files under <spk>/<video>/")
    return sorted(found, key=lambda r: c_key(r[0]))


def write_data_dir(d: str | Path, rows: list[tuple[str, str, Path]], wav_value=str) -> None:
    """wav.scp, utt2spk, spk2utt for (utt, spk, path) rows."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_text(d / "wav.scp", format_table((u, wav_value(p)) for u, _, p in rows))
    atomic_write_text(d / "utt2spk", format_table((u, s) for u, s, _ in rows))
    s2u = utt2spk_to_spk2utt({u: s for u, s, _ in rows})
    atomic_write_text(d / "spk2utt", format_table((s, " ".join(us)) for s, us in s2u.items()))


def read_meta_test_speakers(meta: str | Path) -> set[str]:
    """Speakers whose ``Set`` column is ``test`` in ``vox1_meta.csv`` (tab separated)."""
    with open(meta, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header = [h.strip().lower() for h in rows[0]]
    if "set" not in header:
        raise DataDirError(f"{meta}:1: no 'Set' column in header {rows[0]}")
    i_set = header.index("set")
    return {r[0].strip() for r in rows[1:] if len(r) > i_set and r[i_set].strip() == "test"}


def convert_trials(list_file: str | Path, known: set[str] | None = None) -> list[tuple[str, str, str]]:
    """Official list -> (enrol utt, test utt, target|nontarget); unknown utterances are errors."""
    out = []
    for lineno, line in enumerate(Path(list_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("0", "1"):
            raise DataDirError(
                f"{list_file}:{lineno}: expected '<1|0> <spk/video/n.wav> <spk/video/n.wav>', got {line.strip()!r}"
            )
        try:
            a, b = utt_id(parts[1]), utt_id(parts[2])
        except ValueError as e:
            raise DataDirError(f"{list_file}:{lineno}: {e}") from None
        for u in (a, b):
            if known is not None and u not in known:
                raise DataDirError(f"{list_file}:{lineno}: utterance {u} has no audio under the corpus root")
        out.append((a, b, "target" if parts[0] == "1" else "nontarget"))
    return out


def prepare_vox1(
    root: str | Path, out: str | Path, meta: str | Path | None = None, trial_lists: list[str | Path] = ()
) -> dict[str, int]:
    """Write ``out/dev`` and ``out/test`` (plus ``out/all`` when a list needs dev utterances).

    Test speakers: ``Set == test`` in ``meta`` when given, else the official 40 (id10270-id10309).
    Each list becomes ``trials_<stem>`` in the dir holding its utterances; the first list is also
    that dir's ``trials``.
    """
    rows = scan(root, "wav", "wav")
    test_spk = read_meta_test_speakers(meta) if meta else VOX1_TEST_SPEAKERS
    parts = {"dev": [r for r in rows if r[1] not in test_spk], "test": [r for r in rows if r[1] in test_spk]}
    trials = {}
    for lst in trial_lists:
        pairs = convert_trials(lst, {r[0] for r in rows})
        used = {u for a, b, _ in pairs for u in (a, b)}
        target = "test" if used <= {r[0] for r in parts["test"]} else "all"
        trials.setdefault(target, []).append((Path(lst).stem, pairs))
    if "all" in trials:
        parts["all"] = rows
    for name, part in parts.items():
        if not part:
            raise DataDirError(f"{root}: no {name} speakers found (test speakers: {sorted(test_spk)[:3]}...)")
        write_data_dir(Path(out) / name, part)
        for i, (stem, pairs) in enumerate(trials.get(name, [])):
            atomic_write_text(Path(out) / name / f"trials_{stem}", format_table(pairs))
            if i == 0:
                atomic_write_text(Path(out) / name / "trials", format_table(pairs))
    return {name: len(part) for name, part in parts.items()}


def prepare_vox2(root: str | Path, out: str | Path) -> int:
    """One data dir for a VoxCeleb2 part (``dev`` or ``test`` root holding ``aac/``)."""
    rows = scan(root, "aac", "m4a")
    write_data_dir(out, rows, wav_value=lambda p: FFMPEG.format(shlex.quote(str(p))))  # a literal path in the pipe
    return len(rows)

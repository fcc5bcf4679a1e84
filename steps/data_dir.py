"""Data-dir tools behind utils/*.sh (validate, fix, split, subset, utt2spk <-> spk2utt).

python -m steps.data_dir validate [--no-feats] [--no-feat-files] [--no-wav] [--no-text] [--no-spk-sort]
                                  [--no-check-paths] <dir>
python -m steps.data_dir fix <dir>
python -m steps.data_dir split [--per-utt] <dir> <nj>
python -m steps.data_dir subset (--utt-list F | --spk-list F) <src> <dst>
python -m steps.data_dir combine <dest> <src1> <src2> ...
python -m steps.data_dir utt2spk_to_spk2utt [<utt2spk>]    (stdin when absent; writes stdout)
python -m steps.data_dir spk2utt_to_utt2spk [<spk2utt>]
"""

from __future__ import annotations

import argparse
import gc
import sys

from datasets.datadir import spk2utt_to_utt2spk, utt2spk_to_spk2utt, validate_data_dir
from datasets.fix_dir import fix_data_dir
from datasets.kaldi_files import DataDirError
from datasets.split import combine_data_dirs, split_data, subset_data_dir
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def _pairs(path: str | None) -> list[list[str]]:
    f = open(path, encoding="utf-8") if path and path != "-" else sys.stdin
    rows = [line.split() for line in f if line.strip()]
    for i, r in enumerate(rows, 1):
        if len(r) < 2:
            raise DataDirError(f"{path or 'stdin'}:{i}: expected at least 2 fields")
    return rows


def cmd_validate(a) -> int:
    problems = validate_data_dir(
        a.dir,
        no_feats=a.no_feats,
        no_wav=a.no_wav,
        no_spk_sort=a.no_spk_sort,
        check_paths=not a.no_check_paths,
        no_feat_files=a.no_feat_files,
    )
    for p in problems:
        print(f"validate_data_dir: {p}", file=sys.stderr)
    if problems:
        print(f"validate_data_dir: {a.dir} is NOT valid ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    print(f"validate_data_dir: Successfully validated data-directory {a.dir}")
    return 0


def cmd_fix(a) -> int:
    for line in fix_data_dir(a.dir):
        print(f"fix_data_dir: {a.dir}/{line}" if line != "nothing to change" else f"fix_data_dir: {a.dir}: {line}")
    return 0


def cmd_split(a) -> int:
    parts = split_data(a.dir, a.nj, per_utt=a.per_utt)
    print(parts[0].parent)
    return 0


def cmd_subset(a) -> int:
    ids = [line.split()[0] for line in open(a.utt_list or a.spk_list, encoding="utf-8") if line.strip()]
    n = subset_data_dir(a.src, a.dst, utts=ids if a.utt_list else None, spks=ids if a.spk_list else None)
    print(f"subset_data_dir: {n} utterances -> {a.dst}")
    return 0


def cmd_combine(a) -> int:
    n = combine_data_dirs(a.dest, a.sources)
    print(f"combine_data: {a.dest}: {n} utterances from {len(a.sources)} dirs")
    return 0


def cmd_u2s(a) -> int:
    for spk, utts in utt2spk_to_spk2utt(dict(r[:2] for r in _pairs(a.file))).items():
        print(spk, " ".join(utts))
    return 0


def cmd_s2u(a) -> int:
    for utt, spk in spk2utt_to_utt2spk({r[0]: r[1:] for r in _pairs(a.file)}).items():
        print(utt, spk)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="steps.data_dir", description=__doc__, formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate")
    for flag in ("--no-feats", "--no-wav", "--no-text", "--no-spk-sort", "--no-check-paths"):
        v.add_argument(flag, action="store_true")
    v.add_argument(
        "--no-feat-files",
        action="store_true",
        help="also skip feats.scp, utt2num_frames, utt2dur, vad.scp (feature extraction replaces them)",
    )
    v.add_argument("dir")
    v.set_defaults(fn=cmd_validate)
    f = sub.add_parser("fix")
    f.add_argument("dir")
    f.set_defaults(fn=cmd_fix)
    s = sub.add_parser("split")
    s.add_argument("--per-utt", action="store_true")
    s.add_argument("dir")
    s.add_argument("nj")
    s.set_defaults(fn=cmd_split)
    b = sub.add_parser("subset")
    g = b.add_mutually_exclusive_group(required=True)
    g.add_argument("--utt-list")
    g.add_argument("--spk-list")
    b.add_argument("src")
    b.add_argument("dst")
    b.set_defaults(fn=cmd_subset)
    c = sub.add_parser("combine")
    c.add_argument("dest")
    c.add_argument("sources", nargs="+")
    c.set_defaults(fn=cmd_combine)
    for name, fn in (("utt2spk_to_spk2utt", cmd_u2s), ("spk2utt_to_utt2spk", cmd_s2u)):
        c = sub.add_parser(name)
        c.add_argument("file", nargs="?")
        c.set_defaults(fn=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    gc.disable()  # millions of table rows make no reference cycles; the collector's passes over them grew superlinearly
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except CLI_ERRORS as e:
        return fail(a.cmd, e)


if __name__ == "__main__":
    sys.exit(main())

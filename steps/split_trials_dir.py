"""A data dir holding only the utterances of a trials list (GFA ``split_trials_dir.py``).

    python datasets/split_trials_dir.py --data-dir data/synth/train --out-dir data/synth/train/trials_dir \\
        --trials trials_2w [--copy-feats true|false] [--compress true|false]

--trials NAME means <data-dir>/NAME; a value with a directory part (./x, a/b) is a path as given; the
tool prints which file it used. The output dir has every Kaldi file of the source
restricted to those utterances, the list as 'trials', and (with --copy-feats true, the default) the
features copied into one <out-dir>/feats.ark so the dir is self-contained. Every utterance of the
list must have features.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kaldiio

from datasets.ark_io import AtomicArkWriter
from datasets.ark_read import matrix_blob, matrix_kind
from datasets.datadir import check_trials
from datasets.kaldi_files import DataDirError, read_dict
from core.atomic import atomic_write_text
from datasets.split import subset_data_dir
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def copy_feats(feats: dict[str, str], utts: list[str], out: Path, compress: bool) -> int:
    """out/feats.ark + out/feats.scp (replacing the subset's scp into the source arks). A whole matrix
    already in the asked form (compressed CM, or uncompressed FM/DM) is copied byte for byte; others are
    decoded and written again. Returns the count copied byte for byte."""
    fds, verbatim = {}, 0
    with AtomicArkWriter(out / "feats", compress=compress) as w:
        for utt in utts:
            kind = matrix_kind(feats[utt], fds)
            if "[" not in feats[utt] and kind in (("CM",) if compress else ("FM", "DM")):
                w.put_blob(utt, matrix_blob(feats[utt], fds))
                verbatim += 1
            else:
                w[utt] = kaldiio.load_mat(feats[utt])
    for f in fds.values():
        f.close()
    return verbatim


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--trials", default="trials")
    p.add_argument("--copy-feats", default="true", choices=["true", "false"])
    p.add_argument("--compress", default="true", choices=["true", "false"])
    a = p.parse_args(argv)
    src, out = Path(a.data_dir), Path(a.out_dir)
    # a bare name is the data dir's file; anything with a directory part is a path as given
    trials = src / a.trials if Path(a.trials).name == a.trials else Path(a.trials)
    try:
        if not trials.is_file():
            raise DataDirError(f"{trials}: no such trials file")
        print(f"split_trials_dir: trials from {trials}")
        feats = read_dict(src / "feats.scp")
        problems = check_trials(trials, set(feats))
        if problems:
            raise DataDirError("\n".join(problems).replace("is not in this data dir", f"has no features in {src}/feats.scp"))
        lines = trials.read_text().splitlines()
        utts = {u for line in lines for u in line.split()[:2]}
        subset_data_dir(src, out, utts=utts)
        atomic_write_text(out / "trials", "".join(line + "\n" for line in lines))
        verbatim = copy_feats(feats, sorted(utts), out, a.compress == "true") if a.copy_feats == "true" else 0
    except CLI_ERRORS as e:
        return fail("split_trials_dir", e)
    how = (
        f"; features: {verbatim} copied byte for byte, {len(utts) - verbatim} decoded and written again"
        if a.copy_feats == "true"
        else ""
    )
    print(f"split_trials_dir: {out}: {len(utts)} utterances, {len(lines)} trials{how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Draw verification trials from a data dir (GFA ``make_trials.py``, corrected).

    python datasets/make_trials.py <num-pairs> <data-dir> [--seed 123456] [--out FILE]
                                   [--avoid-same-recording]

Writes <data-dir>/trials (or --out): half target, half nontarget, no self-pairs or duplicates,
seeded. Target pairs are spread over all of a speaker's utterances; --avoid-same-recording keeps
target pairs off one recording, known from <data-dir>/segments or, without it, from ids shaped
<spk>-<recording>-<n> (VoxCeleb); other ids: a warning, and no constraint. Where no target pair of
two recordings exists (one recording per speaker), a warning, and target pairs within recordings.
Fewer trials than asked is a warning naming both numbers; none (or no target) is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.kaldi_files import DataDirError, format_table, read_dict

from core.atomic import atomic_write_text
from datasets.trials import recordings, sample_trials
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("num_pairs", type=int)
    p.add_argument("data_dir")
    p.add_argument("--seed", type=int, default=123456)
    p.add_argument("--out", default=None)
    p.add_argument("--avoid-same-recording", action="store_true")
    return p


def recording_map(d: Path, u2s: dict) -> dict | None:
    """utterance -> recording (from segments, else from the ids), or None with a warning when unknown."""
    segs = {u: v.split()[0] for u, v in read_dict(d / "segments", 3, 3).items()} if (d / "segments").exists() else None
    rec_of, how = recordings(u2s, segs)
    if rec_of is not None:
        print(f"make_trials: recordings from {how}", file=sys.stderr)
    else:
        print(
            f"make_trials: warning: --avoid-same-recording: {how} and {d} has no segments; drawing target pairs "
            "without the recording constraint",
            file=sys.stderr,
        )
    return rec_of


def draw_trials(a, d: Path) -> list:
    """Balanced trials; with --avoid-same-recording, across recordings where the data dir allows it."""
    u2s = read_dict(d / "utt2spk")
    rec_of = recording_map(d, u2s) if a.avoid_same_recording else None
    trials = sample_trials(u2s, a.num_pairs, a.seed, rec_of)
    if rec_of is not None and not any(t[2] == "target" for t in trials):
        print(
            f"make_trials: warning: --avoid-same-recording: no speaker of {d} has two utterances of different "
            "recordings (one recording per speaker?); drawing target pairs within recordings instead, so "
            "target trials share channel and session and the EER on them is optimistic",
            file=sys.stderr,
        )
        rec_of = None
        trials = sample_trials(u2s, a.num_pairs, a.seed, None)
    if not trials or not any(t[2] == "target" for t in trials):
        raise DataDirError(
            f"{d}: no target trial could be drawn (need a speaker with two utterances"
            f"{' of different recordings' if rec_of else ''}); nothing written"
        )
    return trials


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    d = Path(a.data_dir)
    out = Path(a.out or d / "trials")
    try:
        trials = draw_trials(a, d)
    except CLI_ERRORS as e:
        return fail("make_trials", e)
    if len(trials) < a.num_pairs:
        print(
            f"make_trials: warning: {len(trials)} trials written, {a.num_pairs} asked for: {d} has no more "
            "distinct balanced pairs",
            file=sys.stderr,
        )
    atomic_write_text(out, format_table(trials))
    n_tar = sum(t[2] == "target" for t in trials)
    print(f"make_trials: {out}: {len(trials)} trials ({n_tar} target, {len(trials) - n_tar} nontarget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

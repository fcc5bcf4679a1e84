"""Draw verification trials from a data dir (GFA ``make_trials.py``, corrected).

    python datasets/make_trials.py <num-pairs> <data-dir> [--seed 123456] [--out FILE]
                                   [--avoid-same-recording]

Writes <data-dir>/trials (or --out): half target, half nontarget, no self-pairs or duplicates,
seeded. Target pairs are spread over all of a speaker's utterances; --avoid-same-recording keeps
target pairs off the same recording when ids are <spk>-<recording>-<n> (VoxCeleb).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.kaldi_files import DataDirError, atomic_write_text, format_table, read_dict
from datasets.trials import sample_trials


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("num_pairs", type=int)
    p.add_argument("data_dir")
    p.add_argument("--seed", type=int, default=123456)
    p.add_argument("--out", default=None)
    p.add_argument("--avoid-same-recording", action="store_true")
    a = p.parse_args(argv)
    out = Path(a.out or Path(a.data_dir) / "trials")
    try:
        trials = sample_trials(read_dict(Path(a.data_dir) / "utt2spk"), a.num_pairs, a.seed, a.avoid_same_recording)
    except (DataDirError, ValueError, OSError) as e:
        print(f"make_trials: error: {e}", file=sys.stderr)
        return 1
    atomic_write_text(out, format_table(trials))
    n_tar = sum(t[2] == "target" for t in trials)
    print(f"make_trials: {out}: {len(trials)} trials ({n_tar} target, {len(trials) - n_tar} nontarget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stand-in MUSAN and RIRS_NOISES corpora in their published layouts (for the demo and tests).

    python -m steps.make_augment_standins --musan data/standin/musan --rirs-parent data/standin [--seed 11]

Writes <musan>/{noise,music,speech}/<source>/*.wav + ANNOTATIONS and
<rirs-parent>/RIRS_NOISES/simulated_rirs/{smallroom,mediumroom}/ with rir_list files. Existing
folders are kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.augment_corpora import make_musan_standin, make_rirs_standin
from core.cli import HelpFormatter


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--musan", required=True)
    p.add_argument("--rirs-parent", required=True)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--n-each", type=int, default=12)
    a = p.parse_args(argv)
    if not (Path(a.musan) / "speech").is_dir():
        make_musan_standin(a.musan, a.seed, a.n_each)
    if not (Path(a.rirs_parent) / "RIRS_NOISES" / "simulated_rirs").is_dir():
        make_rirs_standin(a.rirs_parent, a.seed + 1)
    print(f"make_augment_standins: {a.musan} and {a.rirs_parent}/RIRS_NOISES ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())

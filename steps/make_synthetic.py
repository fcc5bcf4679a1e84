"""Generate the synthetic speaker corpus as Kaldi data dirs.

    python -m steps.make_synthetic [--preset tiny|demo|experiment] [--seed N] [--nj N] [--planted-band LO-HI] <out-dir>

Writes <out-dir>/{train,test} data dirs (test has trials) and <out-dir>/corpus.json. A rerun with
the same settings keeps the existing corpus; other settings over an existing corpus are an error.
"""

from __future__ import annotations

import argparse
import sys
import time

from datasets.synthetic import PRESETS, generate_corpus, parse_band
from core.cli import HelpFormatter, arg_type
from core.progress import progress
from core.errors import CLI_ERRORS, fail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--nj", type=int, default=1)
    p.add_argument(
        "--planted-band",
        type=arg_type(parse_band),
        default=None,
        help="speakers differ only inside this band (Hz), e.g. 2000-3000",
    )
    a = p.parse_args(argv)
    if a.nj < 1:
        p.error(f"invalid --nj {a.nj}: must be a positive integer")
    start = time.time()
    bar = lambda it, total: progress(it, total, "synthesising", "utt")  # noqa: E731  (a bar, or lines in a log)
    try:
        info = generate_corpus(a.out_dir, a.preset, a.seed, a.planted_band, a.nj, progress=bar)
    except CLI_ERRORS as e:
        return fail("make_synthetic", e)
    for part in ("train", "test"):
        s = info[part]
        print(f"make_synthetic: {a.out_dir}/{part}: {s['speakers']} speakers, {s['utterances']} utterances, {s['hours']:.3f} h")
    print(f"make_synthetic: done in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Kaldi data dirs for VoxCeleb1/2 from their published layouts.

    python -m steps.prepare_voxceleb vox1 --root /data/voxceleb1 --out data/vox1 \\
        [--meta vox1_meta.csv] [--trials veri_test2.txt list_test_all2.txt list_test_hard2.txt]
    python -m steps.prepare_voxceleb vox2 --root /data/voxceleb2/dev --out data/vox2/dev

vox1 writes <out>/dev and <out>/test (and <out>/all when a trial list uses dev utterances, as the
E and H lists do); each list becomes trials_<list-stem>, the first also 'trials'. vox2 writes one
data dir whose wav.scp decodes m4a through an ffmpeg pipe.
"""

from __future__ import annotations

import argparse
import sys

from datasets.voxceleb import prepare_vox1, prepare_vox2
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("corpus", choices=["vox1", "vox2"])
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--meta", help="vox1_meta.csv (its Set column gives the test speakers)")
    p.add_argument("--trials", nargs="*", default=[], help="official trial lists (vox1)")
    a = p.parse_args(argv)
    try:
        if a.corpus == "vox1":
            counts = prepare_vox1(a.root, a.out, a.meta, a.trials)
            for name, n in counts.items():
                print(f"prepare_voxceleb: {a.out}/{name}: {n} utterances")
        else:
            if a.meta or a.trials:
                p.error("--meta and --trials are for vox1")
            print(f"prepare_voxceleb: {a.out}: {prepare_vox2(a.root, a.out)} utterances")
    except CLI_ERRORS as e:
        return fail("prepare_voxceleb", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One energy-VAD job (what steps/compute_vad_decision.sh runs per JOB), as Kaldi compute-vad.

    python -m steps.compute_vad --config conf/vad.conf <data-dir> <out-prefix>

Reads <data-dir>/feats.scp (column 0 must be log energy: spectrogram or MFCC with use-energy) and
writes <out-prefix>.{ark,scp} of 0/1 float vectors, then <out-prefix>.done.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from datasets.ark_io import AtomicArkWriter, fingerprint, job_done, mark_done
from datasets.ark_read import read_scp
from datasets.feat_opts import read_options
from datasets.kaldi_files import DataDirError
from datasets.vad import compute_vad
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", default=None)
    p.add_argument("data_dir")
    p.add_argument("out_prefix")
    a = p.parse_args(argv)
    try:
        opts, _ = read_options("vad", a.config)
        scp = Path(a.data_dir) / "feats.scp"
        if not scp.exists():
            raise DataDirError(f"{scp}: missing; extract features first")
        fp = fingerprint([scp, a.config or "-"], opts=repr(opts))
        if job_done(a.out_prefix, fp):
            print(f"compute_vad: {a.out_prefix}: up to date, skipped")
            return 0
        voiced = total = 0
        with AtomicArkWriter(a.out_prefix) as w:
            for utt, feats in read_scp(scp):
                v = compute_vad(feats, opts)
                w[utt] = v
                voiced, total = voiced + int(v.sum()), total + len(v)
        mark_done(a.out_prefix, fp, utterances=w.count)
        print(
            f"compute_vad: {a.out_prefix}: {w.count} utterances, {voiced} of {total} frames voiced "
            f"({100 * voiced / max(total, 1):.1f}%)"
        )
        return 0
    except CLI_ERRORS as e:
        return fail("compute_vad", e)


if __name__ == "__main__":
    sys.exit(main())

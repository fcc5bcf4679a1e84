"""One feature-extraction job (what steps/make_{spect,fbank,mfcc}.sh run per JOB).

    python -m steps.compute_feats --type spect|fbank|mfcc --config conf/spect_161.conf \\
        [--compress true] [--dither-seed 0] [--max-fail-frac 0.01] <data-dir> <out-prefix>

Writes <out-prefix>.{ark,scp,utt2num_frames,utt2dur} and, last, <out-prefix>.done. A rerun whose
inputs and options are unchanged exits at once. An utterance that cannot be read, has the wrong
sample rate, is shorter than one window or gives non-finite features is skipped with a warning
naming it (utils/fix_data_dir.sh then drops it); the job fails, writing nothing, when more than
--max-fail-frac of its utterances fail.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import stat
import sys
from pathlib import Path

import numpy as np

from datasets.ark_io import AtomicArkWriter, fingerprint, job_done, mark_done
from datasets.feat_opts import read_options
from datasets.wav_checks import checked_waves, warn
from datasets.kaldi_feats import compute_batch, content_rng
from datasets.kaldi_files import format_table, read_dict
from core.atomic import atomic_write_text
from core.cli import HelpFormatter
from core.allocator import tune_allocator
from core.errors import CLI_ERRORS, fail


def job_failed(prefix: Path) -> int:
    try:
        return int(json.loads(Path(f"{prefix}.done").read_text()).get("failed", 0))
    except (OSError, ValueError):
        return 0


def audio_stamps(wav_scp: dict[str, str]) -> list:
    """(size, mtime) of every audio file wav.scp names (for a pipe: every word that is a file), so a
    wav repaired or replaced in place makes the job run again."""
    out = []
    for spec in wav_scp.values():
        try:
            words = shlex.split(spec.rstrip()[:-1]) if spec.rstrip().endswith("|") else [spec]
        except ValueError:  # unbalanced quotes: the pipe itself will fail and say so
            words = spec.split()
        for w in words:
            try:
                st = os.stat(w)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append((w, st.st_size, st.st_mtime_ns))
    return out


def write_features(a, d: Path, prefix: Path, opts, tool: str) -> tuple[int, list, dict, dict]:
    """Features of every utterance into <prefix>.ark/.scp, in batches of about 2 min of audio;
    (utterances, failed ones, frames per utterance, seconds per utterance)."""
    n_utts, failed, frames, durs, why = 0, [], {}, {}, {}
    batch: list[tuple[str, np.ndarray]] = []

    def flush(writer):
        feats = compute_batch([x for _, x in batch], opts, [content_rng(a.dither_seed, x) for _, x in batch])
        for (utt, x), f in zip(batch, feats):
            if not np.isfinite(f).all():
                why[utt] = "non-finite features (NaN/inf in the input?)"
                warn(f"{utt}: skipped: {why[utt]}")
                failed.append(utt)
                continue
            writer[utt] = f
            frames[utt], durs[utt] = len(f), len(x) / opts.frame.sample_frequency
        batch.clear()

    with AtomicArkWriter(prefix, compress=a.compress) as writer:
        for utt, x in checked_waves(d, opts, tool, why):
            n_utts += 1
            if x is None:
                failed.append(utt)
                continue
            batch.append((utt, x))
            if sum(len(x) for _, x in batch) >= 16000 * 120:  # ~2 min of audio per FFT batch
                flush(writer)
        flush(writer)
        if n_utts == 0 or len(failed) > a.max_fail_frac * n_utts:
            raise SystemExit(
                f"compute_feats: {d}: {len(failed)} of {n_utts} utterances failed "
                f"(more than --max-fail-frac {a.max_fail_frac}); nothing written"
                + (f"; the first, {failed[0]}: {why.get(failed[0], 'see the warnings above')}" if failed else "")
            )
    return n_utts, failed, frames, durs


def run_job(a) -> int:
    d, prefix = Path(a.data_dir), Path(a.out_prefix)
    opts, tool = read_options(a.type, a.config)
    inputs = [d / "wav.scp", d / "segments", d / "utt2spk", d / "utt2aug", a.config]
    fp = fingerprint(
        inputs,
        type=a.type,
        compress=a.compress,
        seed=a.dither_seed,
        dither="content",
        opts=repr(opts),
        audio=audio_stamps(read_dict(d / "wav.scp", max_fields=None)),
    )
    if job_done(prefix, fp):
        print(f"compute_feats: {prefix}: up to date, skipped ({job_failed(prefix)} utterance(s) had failed)")
        return 0
    n_utts, failed, frames, durs = write_features(a, d, prefix, opts, tool)
    atomic_write_text(f"{prefix}.utt2num_frames", format_table((u, str(n)) for u, n in frames.items()))
    atomic_write_text(f"{prefix}.utt2dur", format_table((u, f"{s:.4f}") for u, s in durs.items()))
    mark_done(prefix, fp, utterances=n_utts, failed=len(failed), failed_utterances=failed)
    print(f"compute_feats: {prefix}: {n_utts - len(failed)} of {n_utts} utterances, {len(failed)} failed")
    return 0


def main(argv: list[str] | None = None) -> int:
    tune_allocator("heap")  # small numpy blocks: the heap reuses them without page faults (core/allocator.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--type", required=True, choices=["spect", "fbank", "mfcc"])
    p.add_argument("--config", required=True)
    p.add_argument("--compress", default="true", choices=["true", "false"])
    p.add_argument("--dither-seed", type=int, default=0)
    p.add_argument("--max-fail-frac", type=float, default=0.01)
    p.add_argument("data_dir")
    p.add_argument("out_prefix")
    a = p.parse_args(argv)
    a.compress = a.compress == "true"
    try:
        return run_job(a)
    except CLI_ERRORS as e:
        return fail("compute_feats", e)


if __name__ == "__main__":
    sys.exit(main())

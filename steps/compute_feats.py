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
from datasets.audio import AudioError, iter_data_dir_audio
from datasets.augment import AugmentError
from datasets.augment_dirs import SourceCache, apply_recipe
from datasets.feat_opts import read_options
from datasets.kaldi_feats import compute_batch, content_rng, num_frames
from datasets.kaldi_files import atomic_write_text, format_table, read_dict, read_table
from steps.runtime import HelpFormatter, tune_allocator
from core.errors import CLI_ERRORS, fail


def warn(msg: str) -> None:
    print(f"WARNING (compute_feats): {msg}", file=sys.stderr)


def checked_waves(d: Path, opts, tool: dict):
    """Yield (utt, mono samples or None) of a data dir applying Kaldi's per-utterance checks."""
    wav_scp = read_dict(d / "wav.scp", max_fields=None)
    segments = None
    if (d / "segments").exists():
        segments = {e.key: (e.fields[0], float(e.fields[1]), float(e.fields[2]))
                    for e in read_table(d / "segments", 3, 3)}
    recipes = {}
    if (d / "utt2aug").exists():  # augmented copies: apply each recipe to the clean audio in-process
        recipes = {k: json.loads(v) for k, v in read_dict(d / "utt2aug", max_fields=None).items()}
    yield from check_waves(iter_data_dir_audio(wav_scp, segments), opts, tool, recipes)



def check_waves(audio, opts, tool: dict, recipes: dict | None = None):
    """(utt, samples (channels, n) | AudioError, rate) -> (utt, mono samples or None), warning why."""
    recipes = recipes or {}
    cache = SourceCache()
    sr_want, win = opts.frame.sample_frequency, opts.frame.window_size
    for utt, x, sr in audio:
        if isinstance(x, AudioError):
            warn(f"{utt}: skipped: {x}")
            yield utt, None
            continue
        channel = tool["channel"]
        if x.shape[0] > 1 and channel == -1:
            warn(f"{utt}: {x.shape[0]} channels and --channel not set; using channel 0 (as Kaldi)")
        if channel >= x.shape[0]:
            warn(f"{utt}: skipped: --channel {channel} but the audio has {x.shape[0]} channel(s)")
            yield utt, None
        elif sr != sr_want:
            warn(f"{utt}: skipped: sample rate {sr} Hz differs from --sample-frequency={sr_want:g}")
            yield utt, None
        elif num_frames(x.shape[1], opts.frame) == 0 or x.shape[1] / sr < tool["min_duration"]:
            why = (f"shorter than one {win}-sample window (snip-edges=true)" if num_frames(x.shape[1], opts.frame) == 0
                   else f"shorter than --min-duration={tool['min_duration']}")
            warn(f"{utt}: skipped: {x.shape[1]} samples, {why}")
            yield utt, None
        else:
            mono = x[max(channel, 0)]
            if utt in recipes:
                try:
                    mono = apply_recipe(mono, sr, recipes[utt], cache)
                except (AugmentError, AudioError) as e:
                    warn(f"{utt}: skipped: augmentation failed: {e}")
                    yield utt, None
                    continue
            if not np.any(mono):
                warn(f"{utt}: all-zero audio; energies are floored")
            yield utt, mono


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


def run_job(a) -> int:
    d, prefix = Path(a.data_dir), Path(a.out_prefix)
    opts, tool = read_options(a.type, a.config)
    inputs = [d / "wav.scp", d / "segments", d / "utt2spk", d / "utt2aug", a.config]
    fp = fingerprint(inputs, type=a.type, compress=a.compress, seed=a.dither_seed, dither="content", opts=repr(opts),
                     audio=audio_stamps(read_dict(d / "wav.scp", max_fields=None)))
    if job_done(prefix, fp):
        print(f"compute_feats: {prefix}: up to date, skipped ({job_failed(prefix)} utterance(s) had failed)")
        return 0
    n_utts, failed, frames, durs = 0, [], {}, {}
    batch: list[tuple[str, np.ndarray]] = []

    def flush(writer):
        feats = compute_batch([x for _, x in batch], opts, [content_rng(a.dither_seed, x) for _, x in batch])
        for (utt, x), f in zip(batch, feats):
            if not np.isfinite(f).all():
                warn(f"{utt}: skipped: non-finite features (NaN/inf in the input?)")
                failed.append(utt)
                continue
            writer[utt] = f
            frames[utt], durs[utt] = len(f), len(x) / opts.frame.sample_frequency
        batch.clear()

    with AtomicArkWriter(prefix, compress=a.compress) as writer:
        for utt, x in checked_waves(d, opts, tool):
            n_utts += 1
            if x is None:
                failed.append(utt)
                continue
            batch.append((utt, x))
            if sum(len(x) for _, x in batch) >= 16000 * 120:  # ~2 min of audio per FFT batch
                flush(writer)
        flush(writer)
        if n_utts == 0 or len(failed) > a.max_fail_frac * n_utts:
            raise SystemExit(f"compute_feats: {d}: {len(failed)} of {n_utts} utterances failed "
                             f"(more than --max-fail-frac {a.max_fail_frac}); nothing written")
    atomic_write_text(f"{prefix}.utt2num_frames", format_table((u, str(n)) for u, n in frames.items()))
    atomic_write_text(f"{prefix}.utt2dur", format_table((u, f"{s:.4f}") for u, s in durs.items()))
    mark_done(prefix, fp, utterances=n_utts, failed=len(failed), failed_utterances=failed)
    print(f"compute_feats: {prefix}: {n_utts - len(failed)} of {n_utts} utterances, {len(failed)} failed")
    return 0


def main(argv: list[str] | None = None) -> int:
    tune_allocator("heap")  # small numpy blocks: the heap reuses them without page faults (steps/runtime.py)
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

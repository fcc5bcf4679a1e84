"""Feature-extraction speed on one core: ours against kaldi-native-fbank on the same wavs.

    python bench/features.py [--data <data-dir with wav.scp>] [--repeat 3]

Without --data it synthesises 60 utterances of 4 s. Prints the real-time factor (seconds of CPU per
second of audio) of our spectrogram-161, fbank-80 and MFCC-30 and of kaldi-native-fbank's fbank-80
and MFCC-30 (it has no spectrogram), and the speed ratio knf time / our time (> 1: we are faster).
The wavs are read into memory first: only feature computation is timed. Dither is on (1.0) for both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one core, before numpy loads

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from datasets.audio import read_wav  # noqa: E402
from datasets.feat_opts import read_options  # noqa: E402
from datasets.kaldi_feats import compute_batch  # noqa: E402
from datasets.kaldi_files import read_dict  # noqa: E402
from core.allocator import tune_allocator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_waves(data: str | None) -> list[np.ndarray]:
    if data:
        return [read_wav(v)[0][0] for v in read_dict(Path(data) / "wav.scp", max_fields=None).values()]
    from datasets import synth_voice as sv

    rng = np.random.default_rng(0)
    return [
        sv.apply_channel(rng, sv.synthesize(rng, sv.random_voice(rng), 4.0), sv.random_channel(rng)).astype(np.float32)
        for _ in range(60)
    ]


def ours(waves, kind, conf) -> float:
    opts, _ = read_options(kind, ROOT / "conf" / conf)
    t = time.process_time()
    for i in range(0, len(waves), 30):  # batches of 30 utterances (as a job batches ~2 min of audio)
        chunk = waves[i : i + 30]
        compute_batch(chunk, opts, [np.random.default_rng(i + j) for j in range(len(chunk))])
    return time.process_time() - t


def knf(waves, kind, conf) -> float:
    import kaldi_native_fbank as kn

    opts, _ = read_options(kind, ROOT / "conf" / conf)
    o = kn.FbankOptions() if kind == "fbank" else kn.MfccOptions()
    fr = opts.frame
    o.frame_opts.frame_length_ms, o.frame_opts.frame_shift_ms = fr.frame_length, fr.frame_shift
    o.frame_opts.dither, o.frame_opts.snip_edges, o.frame_opts.window_type = 1.0, fr.snip_edges, fr.window_type
    o.mel_opts.num_bins, o.mel_opts.low_freq, o.mel_opts.high_freq = opts.mel.num_mel_bins, opts.mel.low_freq, opts.mel.high_freq
    if kind == "mfcc":
        o.num_ceps = opts.num_ceps
    cls = kn.OnlineFbank if kind == "fbank" else kn.OnlineMfcc
    t = time.process_time()
    for w in waves:
        f = cls(o)
        f.accept_waveform(16000, w)
        f.input_finished()
        np.stack([f.get_frame(i) for i in range(f.num_frames_ready)])  # (frames, dim)
    return time.process_time() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--malloc",
        default="tuned",
        choices=["tuned", "default"],
        help="tuned: the allocator of our feature entry points (core/allocator.py: a preloaded "
        "tcmalloc, else glibc heap); default: glibc's",
    )
    a = p.parse_args()
    if a.malloc == "tuned" and tune_allocator("heap") == "glibc default":
        raise SystemExit("bench: could not apply the allocator settings (not glibc?)")
    waves = load_waves(a.data)
    audio = sum(len(w) for w in waves) / 16000
    print(f"{len(waves)} utterances, {audio:.1f} s of audio, 1 thread, best of {a.repeat}, {a.malloc} malloc")
    best = lambda fn, *args: min(fn(*args) for _ in range(a.repeat))  # noqa: E731
    rows = {}
    for kind, conf in (("spect", "spect_161.conf"), ("fbank", "fbank_80.conf"), ("mfcc", "mfcc_30.conf")):
        rows[kind] = best(ours, waves, kind, conf)
    for kind, conf in (("fbank", "fbank_80.conf"), ("mfcc", "mfcc_30.conf")):
        rows["knf-" + kind] = best(knf, waves, kind, conf)
    print(f"{'extractor':<16}{'CPU s':>8}{'RTF':>10}{'x real time':>13}")
    for name, secs in rows.items():
        print(f"{name:<16}{secs:8.3f}{secs / audio:10.5f}{audio / secs:13.0f}")
    print(f"speed ratio fbank-80: knf / ours = {rows['knf-fbank'] / rows['fbank']:.2f}x")
    print(f"speed ratio MFCC-30:  knf / ours = {rows['knf-mfcc'] / rows['mfcc']:.2f}x")
    print(f"speed ratio spect-161 vs knf fbank-80 (knf has no spectrogram): {rows['knf-fbank'] / rows['spect']:.2f}x")


if __name__ == "__main__":
    main()

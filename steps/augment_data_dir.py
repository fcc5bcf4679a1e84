"""Augmented copies of a data dir as Kaldi voxceleb/v2 builds them (reverb, noise, music, babble).

    python -m steps.augment_data_dir --data-dir data/synth/train --musan <musan-root> \\
        --rirs <.../RIRS_NOISES> [--kinds reverb,noise,music,babble] [--seed 123] [--subset N]
        [--write-wav DIR]

Writes <data-dir>_<kind> for each kind (utterance ids suffixed -<kind>, wav.scp pointing at the clean
audio, utt2aug holding each utterance's recipe) and <data-dir>_aug combining them: every copy (the
GFA choice) or, with --subset N, a seeded random N of them (Kaldi's choice). Features of these dirs
are computed in-process by steps/make_*.sh; --write-wav materialises the audio instead (wav.scp then
points at DIR and there is no utt2aug).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from datasets.audio import read_wav, write_wav
from datasets.augment import parse_snrs
from datasets.augment_corpora import read_musan, read_rir_list
from datasets.augment_dirs import DEFAULTS, KINDS, SourceCache, apply_recipe, augmented_rows, source_lists
from datasets.datadir import utt2spk_to_spk2utt
from datasets.kaldi_files import DataDirError, c_key, format_table, read_dict
from core.atomic import atomic_write_text
from core.cli import HelpFormatter
from core.allocator import tune_allocator
from core.errors import CLI_ERRORS, fail


def write_dir(d: Path, rows, wav_scp: dict, u2s: dict, durs: dict) -> None:
    """rows: (new id, source id, recipe JSON or None); recipe None = wav.scp already materialised."""
    d.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: c_key(r[0]))
    atomic_write_text(d / "wav.scp", format_table((n, wav_scp[n] if n in wav_scp else wav_scp[s]) for n, s, _ in rows))
    atomic_write_text(d / "utt2spk", format_table((n, u2s[s]) for n, s, _ in rows))
    s2u = utt2spk_to_spk2utt({n: u2s[s] for n, s, _ in rows})
    atomic_write_text(d / "spk2utt", format_table((k, " ".join(v)) for k, v in s2u.items()))
    atomic_write_text(d / "utt2dur", format_table((n, durs[s]) for n, s, _ in rows))
    if all(r[2] is not None for r in rows):
        atomic_write_text(d / "utt2aug", format_table((n, j) for n, _, j in rows))
    else:
        (d / "utt2aug").unlink(missing_ok=True)
    for stale in ("feats.scp", "utt2num_frames", "vad.scp", "segments", "text"):  # from an earlier content
        (d / stale).unlink(missing_ok=True)


def materialise(rows, wav_scp: dict, out: Path) -> dict:
    """Apply every recipe now; returns new id -> written wav path."""
    cache, written = SourceCache(), {}
    for new, src, recipe in rows:
        x, sr = read_wav(wav_scp[src], what=src)
        path = out / f"{new}.wav"
        write_wav(path, apply_recipe(x[0].astype(np.float64), sr, json.loads(recipe), cache), sr)
        written[new] = str(path.resolve())
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--musan", required=True)
    p.add_argument("--rirs", required=True, help="the RIRS_NOISES directory")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--subset", type=int, default=0, help="keep a random subset of this many copies (0 = all)")
    p.add_argument("--write-wav", default=None)
    p.add_argument("--noise-snrs", default="15:10:5:0", help="foreground noise SNRs (dB), Kaldi list syntax")
    p.add_argument("--music-snrs", default="15:10:8:5")
    p.add_argument("--babble-snrs", default="20:17:15:13")
    p.add_argument("--babble-speakers", default="3:4:5:6:7")
    return p


def augment_options(a) -> dict:
    snrs = {k: parse_snrs(getattr(a, k)) for k in ("noise_snrs", "music_snrs", "babble_snrs")}
    return {**DEFAULTS, **snrs, "babble_speakers": [int(n) for n in parse_snrs(a.babble_speakers)]}


def augment(a, d: Path, kinds: list[str]) -> list:
    """<d>_<kind> for each kind and <d>_aug of them all (or --subset of them); the rows of <d>_aug."""
    wav_scp, u2s = read_dict(d / "wav.scp", max_fields=None), read_dict(d / "utt2spk")
    if not (d / "utt2dur").exists():
        raise DataDirError(f"{d}/utt2dur: missing (steps/make_spect.sh --write-utt2dur true writes it)")
    durs = read_dict(d / "utt2dur")
    opts = augment_options(a)
    sources = source_lists(read_musan(a.musan), {r: read_rir_list(a.rirs, r) for r in ("smallroom", "mediumroom")})
    every = []
    for kind in kinds:
        rows = augmented_rows({u: float(v) for u, v in durs.items()}, kind, sources, a.seed, opts)
        if a.write_wav:
            wav_scp.update(materialise(rows, wav_scp, Path(a.write_wav) / kind))
            rows = [(n, s, None) for n, s, _ in rows]
        write_dir(Path(f"{d}_{kind}"), rows, wav_scp, u2s, durs)
        every += rows
    if a.subset and a.subset < len(every):
        keep = np.random.default_rng(a.seed).choice(len(every), a.subset, replace=False)
        every = [every[i] for i in sorted(keep)]
    write_dir(Path(f"{d}_aug"), every, wav_scp, u2s, durs)
    return every


def main(argv: list[str] | None = None) -> int:
    tune_allocator("heap")  # small numpy blocks: the heap reuses them without page faults (core/allocator.py)
    a = build_parser().parse_args(argv)
    d = Path(a.data_dir.rstrip("/"))
    kinds = a.kinds.split(",")
    try:
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise DataDirError(f"unknown augmentation kind(s) {bad}; valid: {', '.join(KINDS)}")
        every = augment(a, d, kinds)
    except CLI_ERRORS as e:
        return fail("augment_data_dir", e)
    print(f"augment_data_dir: {d}_aug: {len(every)} augmented utterances ({', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embed a list of recordings with a trained experiment, without a data dir.

    python -m steps.embed --exp-dir exp/demo_rescnn --wav-list wavs.txt --out emb/xvector    # .ark + .scp
    python -m steps.embed --exp-dir exp/demo_rescnn --wav-list wavs.txt --out emb.npy        # .npy + .keys

``--wav-list``: one input per line, either a path or ``<key> <wav spec>`` as in a Kaldi wav.scp (a
file or a ``cmd |`` pipe); a bare path's key is its file stem. Features use the experiment's own
feature conf and checks (see steps.verify); with ``data.vad: true`` the experiment's energy VAD selects
the frames. ``--out`` ending in ``.npy`` writes an (inputs, embedding) float32 matrix in list order and
the keys beside it (``.keys``); otherwise Kaldi float vectors ``<out>.ark`` / ``<out>.scp``. Any input
that cannot be read is an error naming it, and nothing is written.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from datasets.ark_io import AtomicArkWriter
from core.atomic import atomic_write_bytes, atomic_write_text
from recipe.experiment import load_exp_model
from core.cli import HelpFormatter, pick_device, positive_int
from core.progress import progress
from recipe.audio_features import embed_arrays, read_wav_list, wav_features
from core.errors import CLI_ERRORS, fail


def write(out: str, keys: list[str], emb: dict[str, np.ndarray]) -> str:
    if out.endswith(".npy"):
        buf = io.BytesIO()
        np.save(buf, np.stack([emb[k] for k in keys]).astype(np.float32), allow_pickle=False)  # (inputs, emb)
        atomic_write_bytes(out, buf.getvalue())
        atomic_write_text(Path(out).with_suffix(".keys"), "".join(f"{k}\n" for k in keys))
        return f"{out} ({len(keys)} x {len(emb[keys[0]])}) and {Path(out).with_suffix('.keys')}"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with AtomicArkWriter(out) as w:
        for k in keys:
            w[k] = emb[k]
    return f"{out}.ark / {out}.scp"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained experiment dir")
    p.add_argument("--wav-list", required=True, help="inputs: '<path>' or '<key> <wav spec>' per line")
    p.add_argument("--out", required=True, help="<prefix> for .ark/.scp, or a .npy file")
    p.add_argument("--checkpoint", default="auto", help="auto | last | avg_N | <epoch>")
    p.add_argument("--batch", type=positive_int, default=64, help="inputs read and embedded at a time")
    p.add_argument("--dither-seed", type=int, default=0, help="as steps/make_<type>.sh --dither-seed")
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample audio at another rate than the experiment's feature conf (said on stderr) instead of refusing it",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a = p.parse_args(argv)
    exp = Path(a.exp_dir)
    try:
        wavs = read_wav_list(Path(a.wav_list))
        keys = list(wavs)
        device = pick_device(a.device)
        model, cfg, path, _ = load_exp_model(exp, a.checkpoint, device)
        emb: dict[str, np.ndarray] = {}
        for i in progress(range(0, len(keys), a.batch), len(keys), "embed", "input", size=lambda i: len(keys[i : i + a.batch])):
            part = {k: wavs[k] for k in keys[i : i + a.batch]}
            emb.update(
                embed_arrays(
                    model, cfg, exp, wav_features(exp, cfg["inputs"], part, "embed", a.dither_seed, a.resample), device, "embed"
                )
            )
        where = write(a.out, keys, emb)
    except CLI_ERRORS as e:
        return fail("embed", e)
    print(f"embed: {len(keys)} embeddings from {path} -> {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

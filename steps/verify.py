"""Verify pairs of recordings with a trained experiment: cosine score and a same/different decision.

    python -m steps.verify --exp-dir exp/demo_rescnn a.wav b.wav [c.wav d.wav ...]
        [--threshold-from test_trials | --threshold 0.42] [--checkpoint auto] [--device auto]

Each input is a wav file or a wav.scp-style pipe (``"sox x.flac -t wav - |"``), taken two by two as
(enrol, test). Features use the experiment's own feature conf (``<exp>/feats.conf``; a wrong sample
rate is an error) with the dither seeding of steps/make_<type>.sh (by --dither-seed and the audio's content, not its name),
so a pair scored by the recipe gets the same score here up to feature compression, under any file names. The decision is
``target`` when the score is above the EER threshold of one of the experiment's scored trials lists
(``<exp>/scores/<name>.json``, written by steps.score; by default a cosine-scored list named
``trials``), and the output says which list it came from. Prints ``<enrol> <test> <score> <decision>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.metrics import cosine_scores
from recipe.experiment import load_exp_model
from core.cli import HelpFormatter, pick_device
from gfa.experiment import pick_threshold
from recipe.audio_features import embed_arrays, keys_for, wav_features
from core.errors import CLI_ERRORS, fail


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained experiment dir")
    p.add_argument("wavs", nargs="+", help="wav files or 'cmd |' pipes, two per pair (enrol test ...)")
    p.add_argument(
        "--threshold-from",
        default=None,
        help="scored list whose EER threshold decides "
        "(name under <exp>/scores/, e.g. test_trials); default: the list named trials",
    )
    p.add_argument("--threshold", type=float, default=None, help="decide with this cosine threshold instead")
    p.add_argument("--checkpoint", default="auto", help="auto | last | avg_N | <epoch>")
    p.add_argument("--dither-seed", type=int, default=0, help="as steps/make_<type>.sh --dither-seed")
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample audio at another rate than the experiment's feature conf (said on stderr) instead of refusing it",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if len(a.wavs) % 2:
        print(f"verify: error: {len(a.wavs)} inputs; give them in pairs (enrol test [enrol test ...])", file=sys.stderr)
        return 1
    exp = Path(a.exp_dir)
    try:
        decide = (a.threshold, "--threshold") if a.threshold is not None else pick_threshold(exp, a.threshold_from)
        keys, wavs = keys_for(a.wavs)
        device = pick_device(a.device)
        model, cfg, path, _ = load_exp_model(exp, a.checkpoint, device)
        emb = embed_arrays(
            model, cfg, exp, wav_features(exp, cfg["inputs"], wavs, "verify", a.dither_seed, a.resample), device, "verify"
        )
        pairs = list(zip(keys[::2], keys[1::2]))
        scores = cosine_scores(emb, pairs)
    except CLI_ERRORS as e:
        return fail("verify", e)
    if decide is None:
        print(
            f"verify: no decision: {exp}/scores has no cosine-scored trials list (run c_train.sh stage 3, or give --threshold)",
            file=sys.stderr,
        )
    else:
        print(f"verify: decision threshold {decide[0]:.6f}: {decide[1]}", file=sys.stderr)
    print(f"verify: {len(pairs)} pair(s), model {path}", file=sys.stderr)
    for (x, y), s in zip(pairs, scores):
        verdict = "" if decide is None else (" target" if s > decide[0] else " nontarget")
        print(f"{wavs[x]} {wavs[y]} {s:.6f}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

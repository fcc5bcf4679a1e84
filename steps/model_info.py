"""Print a model's parameters (body / head), MACs for a 300-frame input, and its layer list.

    python -m steps.model_info --config conf/rescnn64.yaml [--num-classes 1211] [--frames 300]
                               [--set model.dropout=0.1 ...] [--no-layers]
    python -m steps.model_info --exp-dir exp/demo_rescnn      # a trained experiment: its real head

With --config the head is built for --num-classes speakers (VoxCeleb1 dev: 1211); with --exp-dir the
model, its prior and the head come from the experiment (config.yaml, prior.npy, the number of classes
of its egs' label index).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.info import count_macs, count_params, layer_table
from losses import build_loss
from models.registry import build_model
from recipe.config import load_config
from recipe.experiment import exp_prior, read_exp, resolve_prior, with_prior
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="an experiment YAML")
    src.add_argument("--exp-dir", help="a trained experiment dir (its config, prior and number of classes)")
    p.add_argument("--set", action="append", default=[], metavar="A.B=C", help="--config overrides")
    p.add_argument("--num-classes", type=int, default=1211, help="speakers of the head with --config")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--no-layers", action="store_true")
    a = p.parse_args(argv)
    try:
        if a.exp_dir:
            cfg, inputs = read_exp(Path(a.exp_dir))
            prior, a.num_classes = exp_prior(Path(a.exp_dir), inputs), inputs["num_classes"]
        else:
            cfg = load_config(a.config, a.set)
            att = cfg["model"].get("attention")
            prior = resolve_prior(str(att["prior"]), cfg["data"]["feat_dim"]) if att else None
        feat_dim = cfg["data"]["feat_dim"]
        model = build_model(with_prior(cfg["model"], prior), feat_dim)
        head = build_loss(cfg["loss"], model.emb_dim, a.num_classes)
    except CLI_ERRORS as e:
        return fail("model_info", e)
    body, nhead = count_params(model), count_params(head)
    macs = count_macs(model, a.frames, feat_dim)
    print(f"config: {a.config}" if a.config else f"experiment: {a.exp_dir}")
    print(f"model: {cfg['model']['name']}, input (batch, time, {feat_dim}), embedding {model.emb_dim}")
    print(
        f"parameters: body {body:,} ({body / 1e6:.3f} M), head {nhead:,} for {a.num_classes} classes "
        f"({cfg['loss']['name']}), total {body + nhead:,}"
    )
    print(f"MACs for {a.frames} frames: {macs:,} ({macs / 1e9:.3f} G)")
    if not a.no_layers:
        print("layers:")
        for name, kind, n in layer_table(model):
            print(f"  {name:<40} {kind:<60} {n:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

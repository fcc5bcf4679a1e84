"""Integrated Gradients throughput (utterances/s; 300 frames, 50 Gauss-Legendre steps) of our
implementation against Captum's IntegratedGradients in the same run, with the max difference.

    python bench/saliency.py [--utts 2] [--internal-batch 50] [--models rescnn64,ecapa512]

Both get the same eval-mode model, inputs, zero baseline, target (true-class cosine) and internal
batch size, in float32. Two opt-in speed modes follow: ours on the model wrapped in torch.compile
(one-off compile time printed separately; steady-state throughput compared), and ours under bfloat16
autocast (a precision trade).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradients.methods import saliency_maps  # noqa: E402
from gradients.targets import CosineOutputs, make_target  # noqa: E402
from models.registry import build_loss, build_model  # noqa: E402

MODELS = {"rescnn64": ({"name": "ResCNN", "channels": [64, 128, 256]}, 161),
          "ecapa512": ({"name": "ECAPA_TDNN", "channels": 512}, 80)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=2)
    p.add_argument("--internal-batch", type=int, default=50)
    p.add_argument("--models", default="rescnn64,ecapa512")
    a = p.parse_args()
    from captum.attr import IntegratedGradients
    torch.manual_seed(0)
    print(f"IG, 300 frames, 50 steps, {a.utts} utterances, internal batch {a.internal_batch}, "
          f"{torch.get_num_threads()} threads")
    for name in a.models.split(","):
        cfg, dim = MODELS[name]
        model = build_model(cfg, dim).eval()
        head = build_loss({"name": "AAMSoftmax"}, model.emb_dim, 1211).eval()
        x, y = torch.randn(a.utts, 300, dim) * 3 + 5, torch.arange(a.utts)
        fn = make_target("cosine", model, head, y)
        opts = {"steps": 50, "internal_batch_size": a.internal_batch}
        t = time.perf_counter()
        ours = saliency_maps("integrated_gradients", model, x, fn, opts)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ref = IntegratedGradients(CosineOutputs(model, head)).attribute(
            x, baselines=torch.zeros_like(x), target=y, n_steps=50, method="gausslegendre",
            internal_batch_size=a.internal_batch)
        t_cap = time.perf_counter() - t
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = saliency_maps("integrated_gradients", model, x, fn, opts)
        t_bf = time.perf_counter() - t
        compiled = torch.compile(model)
        cfn = make_target("cosine", compiled, head, y)
        t = time.perf_counter()
        saliency_maps("integrated_gradients", compiled, x[:1], cfn, opts)  # compiles (one-off)
        t_compile = time.perf_counter() - t
        t = time.perf_counter()
        comp = saliency_maps("integrated_gradients", compiled, x, cfn, opts)
        t_comp = time.perf_counter() - t
        scale = ref.abs().max().item()
        diff = lambda z: (z - ref).abs().max().item() / scale  # noqa: E731
        print(f"{name}: Captum {a.utts / t_cap:.3f} utt/s; ours fp32 {a.utts / t_ours:.3f} utt/s "
              f"({t_cap / t_ours:.2f}x Captum, max |diff| {diff(ours):.1e} of max |attr|)")
        print(f"  ours + torch.compile {a.utts / t_comp:.3f} utt/s ({t_cap / t_comp:.2f}x Captum, max |diff| "
              f"{diff(comp):.1e}; one-off compile {t_compile:.0f} s); ours bf16 autocast {a.utts / t_bf:.3f} utt/s "
              f"({t_cap / t_bf:.2f}x, max |diff| {diff(bf):.1e})")


if __name__ == "__main__":
    main()

"""CPU forward+backward time per batch: our ECAPA-TDNN C=512 against SpeechBrain's ECAPA_TDNN of the
same size in the same run, plus ResCNN-64/32/16 and TDNN figures.

    python bench/models.py [--batch 32] [--frames 200] [--repeat 5] [--threads N]

SpeechBrain is not a dependency. To include it (not part of CI):

    pip install --no-deps speechbrain==1.1.2 && pip install hyperpyyaml joblib sentencepiece soundfile huggingface_hub

SpeechBrain imports torchaudio at package import, and the torchaudio wheel on PyPI is a CUDA build
that cannot load beside the CPU torch; its ECAPA_TDNN does not use torchaudio, so this script puts an
empty stand-in module under that name before importing it (nothing else is affected).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import sys
import time
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.info import count_params  # noqa: E402
from models.registry import build_model  # noqa: E402


def speechbrain_ecapa():
    try:
        import torchaudio  # noqa: F401
    except Exception:  # missing, or the CUDA wheel failing to load its library
        stub = types.ModuleType("torchaudio")
        stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        stub.__version__ = torch.__version__.split("+")[0]
        sys.modules["torchaudio"] = stub
    try:
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    except ImportError as e:
        print(f"SpeechBrain not available ({e}); see this script's docstring")
        return None
    return ECAPA_TDNN(80, channels=[512, 512, 512, 512, 1536], lin_neurons=192)


def time_fwd_bwd(model, x: torch.Tensor, repeat: int) -> float:
    """Median seconds of one forward + backward (train mode, sum of outputs as the loss)."""
    model.train()
    times = []
    for i in range(repeat + 2):
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        model(x).sum().backward()
        if i >= 2:  # two warm-up passes
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--frames", type=int, default=200, help="frames for the ECAPA comparison")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {a.threads} threads, median of {a.repeat} fwd+bwd passes")

    x80 = torch.randn(a.batch, a.frames, 80)  # (batch, time, freq)
    ours = build_model({"name": "ECAPA_TDNN", "channels": 512, "embedding_dim": 192}, 80)
    sb = speechbrain_ecapa()
    t_ours = time_fwd_bwd(ours, x80, a.repeat)
    print(f"ECAPA-TDNN C=512, {count_params(ours):,} params, batch {a.batch}x{a.frames}x80: ours {t_ours:.3f} s")
    if sb is not None:  # interleaved, best of two rounds each, against drift
        t_sb = time_fwd_bwd(sb, x80, a.repeat)
        t_ours = min(t_ours, time_fwd_bwd(ours, x80, a.repeat))
        t_sb = min(t_sb, time_fwd_bwd(sb, x80, a.repeat))
        print(
            f"  SpeechBrain ECAPA_TDNN, {sum(p.numel() for p in sb.parameters()):,} params: {t_sb:.3f} s; "
            f"ours / SpeechBrain = {t_ours / t_sb:.2f}x"
        )

    x161 = torch.randn(a.batch, 300, 161)
    for name, cfg in (
        ("ResCNN-64", {"name": "ResCNN", "channels": [64, 128, 256]}),
        ("ResCNN-32", {"name": "ResCNN", "channels": [32, 64, 128]}),
        ("ResCNN-16", {"name": "ResCNN", "channels": [16, 32, 64]}),
        ("TDNN", {"name": "TDNN"}),
        ("TDNN-s", {"name": "TDNN", "channels": [256, 256, 256, 256, 768]}),
    ):
        m = build_model(cfg, 161)
        print(
            f"{name:<10} {count_params(m) / 1e6:6.3f} M params, batch {a.batch}x300x161: "
            f"{time_fwd_bwd(m, x161, a.repeat):.3f} s fwd+bwd"
        )


if __name__ == "__main__":
    main()

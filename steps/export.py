"""Export a trained experiment's model, features to embedding, as TorchScript or ONNX.

    python -m steps.export --exp-dir exp/demo_rescnn --format torchscript|onnx [--out F] [--checkpoint auto]

The exported graph is the whole model the recipe embeds with: per-utterance mean normalisation, the
GFA frequency-attention layer with its prior (students), the network, and the embedding layer
(``model.embed`` where the model has one, e.g. TDNN's segment6). Input: features (batch, time, freq)
as steps/make_<type>.sh writes them with the experiment's ``feats.conf`` (copied beside the export);
output: (batch, embedding). The time axis is dynamic. After export the file is loaded back and its
embeddings compared with PyTorch's on two input lengths (max abs difference printed; over 1e-4 is
an error). ONNX needs the optional packages ``onnx`` and ``onnxscript`` (checked with
``onnxruntime`` when installed). Writes <exp>/export/model.{pt,onnx}, feats.conf and export.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from core.atomic import atomic_path, atomic_write_text
from recipe.experiment import load_exp_model
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, UsageError, fail

TOLERANCE = 1e-4


class Embedder(nn.Module):
    """features (batch, time, freq) -> embeddings (batch, emb), as models/inference.py embeds."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.use_embed = hasattr(model, "embed")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x) if self.use_embed else self.model(x)


def example_inputs(feat_dim: int, min_frames: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, max(t, min_frames), feat_dim, generator=g) * 3 + 5 for b, t in ((1, 300), (2, 437))]


def to_torchscript(net: Embedder, examples, path: Path) -> str:
    try:
        scripted, how = torch.jit.script(net), "torch.jit.script"
    except Exception as e:  # noqa: BLE001 (TorchScript raises many kinds; tracing is the fallback)
        print(f"export: torch.jit.script failed ({type(e).__name__}); tracing instead", file=sys.stderr)
        with warnings.catch_warnings():  # the models' input-shape checks become constants: checked below
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            scripted, how = torch.jit.trace(net, examples[0], check_trace=False), "torch.jit.trace"
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))
    return how


def run_torchscript(path: Path, x: torch.Tensor) -> torch.Tensor:
    return torch.jit.load(str(path)).eval()(x)


def to_onnx(net: Embedder, examples, path: Path) -> str:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"--format onnx needs the optional package(s) {', '.join(missing)}: pip install "
            f"{' '.join(missing)} onnxruntime (or use --format torchscript)"
        )
    time_axis = torch.export.Dim("time", min=examples[0].shape[1] // 2, max=100000)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with atomic_path(path) as tmp:
        try:
            torch.onnx.export(
                net,
                (examples[1],),
                str(tmp),
                input_names=["feats"],
                output_names=["embedding"],
                dynamic_shapes={"x": {0: batch, 1: time_axis}},
                dynamo=True,
                external_data=False,
            )
        except RuntimeError as e:  # the exporter cannot express this model: a limit of the format, not a bug here
            raise UsageError(f"torch.onnx.export cannot export this model ({e}); try --format torchscript") from None
    return "torch.onnx.export (dynamo)"


def run_onnx(path: Path, x: torch.Tensor) -> torch.Tensor | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {"feats": x.numpy()})[0])


FORMATS = {"torchscript": ("model.pt", to_torchscript, run_torchscript), "onnx": ("model.onnx", to_onnx, run_onnx)}


def check_export(net: Embedder, run, path: Path, examples) -> float | None:
    """Max abs difference between the exported model and PyTorch over the examples (None: no runtime)."""
    worst = 0.0
    with torch.no_grad():
        for x in examples:
            got = run(path, x)
            if got is None:
                return None
            worst = max(worst, (got - net(x)).abs().max().item())
    if worst > TOLERANCE:
        raise UsageError(f"{path}: exported embeddings differ from PyTorch's by {worst:.3g} (> {TOLERANCE})")
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained experiment dir")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("--out", default=None, help="output file (default: <exp>/export/model.pt or model.onnx)")
    p.add_argument("--checkpoint", default="auto", help="auto | last | avg_N | <epoch>")
    a = p.parse_args(argv)
    exp = Path(a.exp_dir)
    name, export, run = FORMATS[a.format]
    try:
        model, cfg, ckpt, _ = load_exp_model(exp, a.checkpoint, "cpu")
        net = Embedder(model).eval()
        examples = example_inputs(cfg["data"]["feat_dim"], getattr(model, "min_frames", 1))
        out = Path(a.out) if a.out else exp / "export" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        how = export(net, examples, out)
        diff = check_export(net, run, out, examples)
    except CLI_ERRORS as e:
        return fail("export", e)
    inputs = cfg["inputs"]
    if inputs.get("feat_conf"):
        shutil.copyfile(exp / inputs["feat_conf"], out.parent / "feats.conf")
    info = {
        "format": a.format,
        "file": out.name,
        "how": how,
        "checkpoint": str(ckpt),
        "feat_type": inputs["feat_type"],
        "feat_dim": cfg["data"]["feat_dim"],
        "embedding_dim": model.emb_dim,
        "input": "feats (batch, time, freq)",
        "output": "embedding (batch, embedding_dim)",
        "max_abs_diff_vs_pytorch": diff,
    }
    atomic_write_text(out.parent / "export.json", json.dumps(info, indent=1) + "\n")
    checked = "not run (onnxruntime not installed)" if diff is None else f"max abs difference {diff:.2e} vs PyTorch"
    print(f"export: {out} ({how}); {checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

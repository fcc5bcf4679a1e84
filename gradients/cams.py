"""Class-activation-map methods on 2-D CNN layers: Grad-CAM, Grad-CAM++, LayerCAM, FullGrad.

Maps are computed on a layer's (batch, channels, time', freq') activation and bilinearly upsampled
to the input's (time, freq). A Conv1d layer (TDNN, ECAPA) has frequency as channels: its map has no
frequency axis, and these methods refuse it with a clear error instead of returning a map constant
over frequency. Activations are captured with forward hooks and differentiated with
``torch.autograd.grad`` (no deprecated backward hooks, the batch dimension is kept).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from core.errors import GfaError, UsageError


class NoFrequencyAxisError(GfaError, ValueError):
    pass


def default_layers(model: nn.Module) -> list[str]:
    """Names of the 2-D stage outputs of a ResCNN / ResNet34 (the last one first)."""
    stages = getattr(model, "stages", None)
    if stages is None or not any(isinstance(m, nn.Conv2d) for m in stages.modules()):
        raise NoFrequencyAxisError(
            f"{type(model).__name__} has no 2-D convolution stages: its layers have no "
            "frequency axis (frequency is the channel dimension of a Conv1d); use an "
            "input-gradient method (gradient, integrated_gradients, expected_gradients)"
        )
    names = [f"stages.{n}" for n, m in stages.named_children() if not isinstance(m, (nn.BatchNorm2d, nn.ReLU))]
    return names[::-1]


def _capture(model: nn.Module, layers: list[str], fn, x: torch.Tensor):
    """Forward with hooks: (score per example, activations, d score / d activations)."""
    modules = dict(model.named_modules())
    acts: dict[str, torch.Tensor] = {}
    hooks = []
    for name in layers:
        if name not in modules:
            raise UsageError(f"unknown layer {name!r}")
        hooks.append(modules[name].register_forward_hook(lambda m, i, o, n=name: acts.__setitem__(n, o)))
    try:
        x = x.detach().requires_grad_(True)
        score = fn(x, torch.arange(len(x), device=x.device))
    finally:
        for h in hooks:
            h.remove()
    for name, a in acts.items():
        if a.dim() != 4:
            raise NoFrequencyAxisError(f"layer {name!r} output has shape {tuple(a.shape)}: no frequency axis")
    grads = torch.autograd.grad(score.sum(), [acts[n] for n in layers] + [x])
    return score, [acts[n] for n in layers], grads[:-1], grads[-1], x


def _up(m: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(batch, time', freq') -> (batch, time, freq)."""
    return F.interpolate(m[:, None], size=like.shape[1:], mode="bilinear", align_corners=False)[:, 0]


def grad_cam(model, fn, x, layer: str | None = None) -> torch.Tensor:
    layer = layer or default_layers(model)[0]
    _, (a,), (g,), _, _ = _capture(model, [layer], fn, x)
    w = g.mean(dim=(2, 3), keepdim=True)  # (batch, c, 1, 1)
    return _up(F.relu((w * a).sum(dim=1)), x).detach()


def grad_cam_pp(model, fn, x, layer: str | None = None) -> torch.Tensor:
    layer = layer or default_layers(model)[0]
    _, (a,), (g,), _, _ = _capture(model, [layer], fn, x)
    g2, g3 = g.pow(2), g.pow(3)
    denom = 2 * g2 + (a * g3).sum(dim=(2, 3), keepdim=True)
    alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
    w = (alpha * F.relu(g)).sum(dim=(2, 3), keepdim=True)
    return _up(F.relu((w * a).sum(dim=1)), x).detach()


def layer_cam(model, fn, x, layers: list[str] | None = None) -> torch.Tensor:
    """Sum over layers of upsampled ReLU(sum_c ReLU(G_c) * A_c), each normalised by its max."""
    layers = layers or default_layers(model)
    _, acts, grads, _, _ = _capture(model, layers, fn, x)
    out = torch.zeros_like(x)
    for a, g in zip(acts, grads):
        m = _up(F.relu((F.relu(g) * a).sum(dim=1)), x)
        out += m / m.amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    return out.detach()


def _bias(m: nn.Module) -> torch.Tensor | None:
    """Per-channel bias of a Conv2d, or BatchNorm2d's effective bias beta - mu * gamma / sqrt(var + eps)."""
    if isinstance(m, nn.Conv2d) and m.bias is not None:
        return m.bias
    if isinstance(m, nn.BatchNorm2d):
        return m.bias - m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps)
    return None


def fullgrad(model, fn, x) -> torch.Tensor:
    """|x * dS/dx| plus, for every biased 2-D layer, upsampled sum_c |b_c * dS/dA_c|; every term
    min-max normalised per utterance before summing. Needs eval mode (BN running statistics)."""
    default_layers(model)  # refuses 1-D models
    layers = [n for n, m in model.named_modules() if _bias(m) is not None]
    _, acts, grads, gx, xg = _capture(model, layers, fn, x)
    modules = dict(model.named_modules())

    def norm(m):
        lo, hi = m.amin(dim=(1, 2), keepdim=True), m.amax(dim=(1, 2), keepdim=True)
        return (m - lo) / (hi - lo).clamp(min=1e-12)

    out = norm((gx * xg).abs())
    for name, g in zip(layers, grads):
        b = _bias(modules[name]).detach()[None, :, None, None]
        out += norm(_up((g * b).abs().sum(dim=1), x))
    return out.detach()

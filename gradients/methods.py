"""One interface for every saliency method:

    saliency_maps(method, model, x, fn, options) -> (batch, time, freq)

``fn`` is a target (gradients.targets.make_target); ``options`` are the method's keyword arguments
(unknown ones are an error listing the valid ones). The model must be in eval mode; its parameters
are frozen while attributing so no weight gradients are built.
"""
from __future__ import annotations

import inspect
from contextlib import contextmanager

import torch
from torch import nn

from datasets.loader import chunk_plan
from gradients import cams, path

# name -> (function, takes the model as first argument)
METHODS = {
    "gradient": (path.gradient, False),
    "input_x_gradient": (path.input_x_gradient, False),
    "integrated_gradients": (path.integrated_gradients, False),
    "expected_gradients": (path.expected_gradients, False),
    "gradient_shap": (path.gradient_shap, False),
    "smoothgrad": (path.smoothgrad, False),
    "grad_cam": (cams.grad_cam, True),
    "grad_cam_pp": (cams.grad_cam_pp, True),
    "layer_cam": (cams.layer_cam, True),
    "fullgrad": (cams.fullgrad, True),
}


def method_options(method: str) -> list[str]:
    fn, with_model = METHODS[method]
    params = list(inspect.signature(fn).parameters)
    return params[3:] if with_model else params[2:]


@contextmanager
def frozen(model: nn.Module):
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield model
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)


def saliency_maps(method: str, model: nn.Module, x: torch.Tensor, fn, options: dict | None = None) -> torch.Tensor:
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        raise ValueError(f"{method}: unknown option(s) {unknown}; valid: {', '.join(method_options(method))}")
    if model.training:
        raise ValueError("put the model in eval() mode before computing saliency (dropout, BN statistics)")
    impl, with_model = METHODS[method]
    with frozen(model):
        out = impl(model, fn, x, **options) if with_model else impl(fn, x, **options)
    maps = out[0] if isinstance(out, tuple) else out
    if not torch.isfinite(maps).all():
        raise FloatingPointError(f"{method}: non-finite values in the saliency maps")
    return out


def long_utterance_map(method: str, model: nn.Module, x: torch.Tensor, fn_for, chunk_frames: int,
                       options: dict | None = None) -> torch.Tensor:
    """The (time, freq) map of one utterance x (time, freq) of any length: cut into equal chunks of at
    most ``chunk_frames`` covering every frame, attributed as one batch (``fn_for(n_chunks)`` gives the
    target), overlaps averaged. Runs on x's device; returns a CPU tensor."""
    bounds = chunk_plan(len(x), chunk_frames)
    batch = torch.stack([x[s:e] for s, e in bounds])  # (chunks, chunk len, freq): equal lengths
    maps = saliency_maps(method, model, batch, fn_for(len(bounds)), options)
    maps = (maps[0] if isinstance(maps, tuple) else maps).cpu()  # (chunks, chunk len, freq)
    out, count = torch.zeros(x.shape), torch.zeros(len(x), 1)
    for (s, e), m in zip(bounds, maps):
        out[s:e] += m
        count[s:e] += 1
    return out / count

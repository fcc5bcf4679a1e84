"""One interface for every saliency method:

    saliency_maps(method, model, x, fn, options) -> (batch, time, freq)

``fn`` is a target (gradients.targets.make_target); ``options`` are the method's keyword arguments:
its registered options (defaults from ``METHODS``) and runtime inputs; unknown ones are an error
listing the valid ones. Adding a method is one function and one ``METHODS`` entry: cam_extract's
flags, b_extract.sh's choices and the defaults all derive from the entry. The model must be in eval mode; its parameters
are frozen while attributing so no weight gradients are built.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from datasets.loader import chunk_plan
from gradients import cams, input_gradients, masks, perturb
from core.errors import NonFiniteError, UsageError


@dataclass(frozen=True)
class Option:
    """A method option a user sets (``cam_extract.py --<name>``): default, type, help, choices."""

    default: object
    type: type
    help: str
    choices: tuple = ()


@dataclass(frozen=True)
class Method:
    """One saliency method. ``fn(model, target, x, **kw)`` when ``needs_model`` (it hooks layers), else
    ``fn(target, x, **kw)``; ``options`` are user settings, ``runtime`` the inputs the caller supplies:
    ``references`` (utterances drawn from data), ``generator`` (seeded draws), ``internal_batch_size``
    (the memory bound, a machine setting)."""

    fn: Callable
    needs_model: bool = False
    options: dict[str, Option] = field(default_factory=dict)
    runtime: tuple[str, ...] = ()
    help: str = ""


SAMPLES = "samples per utterance"
BATCHED = ("internal_batch_size",)
DRAWN = ("references", "generator", "internal_batch_size")
MASK_OPTIONS = {
    "l1": Option(1.0, float, "weight of the deleted area mean|1 - m|"),
    "tv": Option(0.2, float, "weight of the mask's total variation"),
    "down": Option(4, int, "mask resolution: time/down x freq/down"),
    "fill": Option("time_mean", str, "what replaces the band / deleted points", input_gradients.BASELINES),
    "noise": Option(0.0, float, "std of input noise added each step"),
}
METHODS = {
    "gradient": Method(input_gradients.gradient, help="signed dS/dx"),
    "input_x_gradient": Method(input_gradients.input_x_gradient, help="x * dS/dx"),
    "integrated_gradients": Method(
        input_gradients.integrated_gradients,
        options={
            "steps": Option(50, int, "integration points"),
            "baseline": Option("zero", str, "IG baseline", input_gradients.BASELINES),
            "rule": Option("gausslegendre", str, "integration rule", input_gradients.RULES),
        },
        runtime=BATCHED,
        help="(x - x') * path integral of dS/dx (the paper's default)",
    ),
    "integrated_gradients_time_mean": Method(
        input_gradients.integrated_gradients,
        options={
            "steps": Option(50, int, "integration points"),
            "baseline": Option("time_mean", str, "IG baseline", input_gradients.BASELINES),
            "rule": Option("gausslegendre", str, "integration rule", input_gradients.RULES),
        },
        runtime=BATCHED,
        help="IG from each bin's time mean (the neutral input after mean normalisation) instead of zero, "
        "so the map does not carry the input's level",
    ),
    "expected_gradients": Method(
        input_gradients.expected_gradients,
        options={"n_samples": Option(50, int, SAMPLES)},
        runtime=DRAWN,
        help="IG averaged over references drawn from data",
    ),
    "gradient_shap": Method(
        input_gradients.gradient_shap,
        options={"n_samples": Option(5, int, SAMPLES), "stdevs": Option(0.0, float, "input noise std")},
        runtime=DRAWN,
        help="Expected Gradients with Gaussian input noise (Captum)",
    ),
    "smoothgrad": Method(
        input_gradients.smoothgrad,
        options={
            "n_samples": Option(25, int, SAMPLES),
            "noise_frac": Option(0.15, float, "noise std / per-bin range"),
            "squared": Option(False, bool, "mean of squared gradients"),
        },
        runtime=("generator", "internal_batch_size"),
        help="mean gradient over noisy copies",
    ),
    "occlusion": Method(
        perturb.occlusion,
        options={
            "window": Option(8, int, "occluded band, bins"),
            "stride": Option(4, int, "band step, bins"),
            "fill": Option("time_mean", str, "what replaces the band", input_gradients.BASELINES),
        },
        runtime=BATCHED,
        help="target drop when a frequency band is replaced",
    ),
    "mask": Method(
        masks.meaningful_mask,
        options={
            "iterations": Option(150, int, "optimisation steps"),
            "lr": Option(0.1, float, "Adam learning rate"),
            **MASK_OPTIONS,
            "tv_beta": Option(3.0, float, "TV exponent"),
        },
        runtime=("generator",),
        help="meaningful-perturbation deletion mask 1 - m (Fong & Vedaldi; Adam)",
    ),
    "igos": Method(
        masks.igos,
        options={
            "iterations": Option(15, int, "optimisation steps"),
            "steps": Option(20, int, "integration points"),
            **MASK_OPTIONS,
            "tv_beta": Option(2.0, float, "TV exponent"),
            "step0": Option(1.0, float, "first line-search step (largest entry change)"),
            "armijo_c": Option(1e-4, float, "Armijo sufficient-decrease constant"),
            "armijo_beta": Option(0.2, float, "line-search shrink factor"),
            "max_tries": Option(8, int, "line-search trials per iteration"),
        },
        runtime=("generator",),
        help="I-GOS deletion mask 1 - m (integrated-gradient descent, Armijo line search)",
    ),
    "grad_cam": Method(cams.grad_cam, True, {"layer": Option(None, str, "CAM layer (default: last 2-D stage)")}),
    "grad_cam_pp": Method(cams.grad_cam_pp, True, {"layer": Option(None, str, "CAM layer (default: last 2-D stage)")}),
    "layer_cam": Method(cams.layer_cam, True, {"layers": Option(None, list, "LayerCAM layers (default: all 2-D stages)")}),
    "fullgrad": Method(cams.fullgrad, True),
}


def method_options(method: str) -> list[str]:
    """Keyword arguments ``saliency_maps`` accepts for ``method``."""
    m = METHODS[method]
    return [*m.options, *m.runtime]


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
        raise UsageError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        raise UsageError(f"{method}: unknown option(s) {unknown}; valid: {', '.join(method_options(method))}")
    if model.training:
        raise UsageError("put the model in eval() mode before computing saliency (dropout, BN statistics)")
    m = METHODS[method]
    options = {**{k: o.default for k, o in m.options.items()}, **options}
    with frozen(model):
        maps = m.fn(model, fn, x, **options) if m.needs_model else m.fn(fn, x, **options)
    if not torch.isfinite(maps).all():
        raise NonFiniteError(f"{method}: non-finite values in the saliency maps")
    return maps


def long_utterance_map(
    method: str, model: nn.Module, x: torch.Tensor, fn_for, chunk_frames: int, options: dict | None = None
) -> torch.Tensor:
    """The (time, freq) map of one utterance x (time, freq) of any length: cut into equal chunks of at
    most ``chunk_frames`` covering every frame, attributed as one batch (``fn_for(n_chunks)`` gives the
    target), overlaps averaged. Runs on x's device; returns a CPU tensor."""
    bounds = chunk_plan(len(x), chunk_frames)
    batch = torch.stack([x[s:e] for s, e in bounds])  # (chunks, chunk len, freq): equal lengths
    maps = saliency_maps(method, model, batch, fn_for(len(bounds)), options).cpu()  # (chunks, chunk len, freq)
    out, count = torch.zeros(x.shape), torch.zeros(len(x), 1)
    for (s, e), m in zip(bounds, maps):
        out[s:e] += m
        count[s:e] += 1
    return out / count

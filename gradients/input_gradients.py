"""Input-gradient saliency methods with one interface:

    method(fn, x, ...) -> maps (batch, time, freq)

``fn(points, rows) -> (n,)`` is a target from gradients.targets; x is (batch, time, freq) with one
common length (never padded). Path methods flatten (utterance, step/sample) pairs into one virtual
batch processed in chunks of ``internal_batch_size`` rows (the memory bound), accumulating weighted
gradients per utterance with ``index_add_``. Random draws use an explicit ``torch.Generator``.
"""

from __future__ import annotations

import numpy as np
import torch
from core.errors import UsageError

RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "trapezoid")
BASELINES = ("zero", "time_mean")


def quadrature(rule: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(alphas, weights) on [0, 1]. ``gausslegendre`` and ``riemann_*`` are Captum's rules
    (``riemann_trapezoid`` keeps Captum's weights, which sum to (n-1)/n); ``trapezoid`` is the correct
    trapezoid rule (alpha_k = k/(n-1), end weights halved)."""
    if rule not in RULES:
        raise UsageError(f"unknown integration rule {rule!r}; valid: {', '.join(RULES)}")
    if steps < 2:
        raise UsageError("need at least 2 steps")
    n = steps
    if rule == "gausslegendre":
        nodes, w = np.polynomial.legendre.leggauss(n)
        a, w = 0.5 * (nodes + 1.0), 0.5 * w
    elif rule == "riemann_left":
        a, w = np.linspace(0, 1 - 1 / n, n), np.full(n, 1 / n)
    elif rule == "riemann_right":
        a, w = np.linspace(1 / n, 1, n), np.full(n, 1 / n)
    elif rule == "riemann_middle":
        a, w = np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n), np.full(n, 1 / n)
    elif rule == "riemann_trapezoid":
        a = np.linspace(0, 1, n)
        w = np.full(n, 1 / n)
        w[0] = w[-1] = 1 / (2 * n)
    else:
        a = np.linspace(0, 1, n)
        w = np.full(n, 1 / (n - 1))
        w[0] = w[-1] = 0.5 / (n - 1)
    return torch.tensor(a, dtype=torch.float32), torch.tensor(w, dtype=torch.float32)


def make_baseline(kind, x: torch.Tensor) -> torch.Tensor:
    """``zero``, ``time_mean`` (each utterance's per-bin mean, tiled over time), a (freq,) vector
    (e.g. a dataset-mean spectrum) or a tensor shaped like x."""
    if isinstance(kind, torch.Tensor):
        b = kind.to(x.dtype)
        return b.expand_as(x) if b.dim() == 1 else b
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "time_mean":
        return x.mean(dim=1, keepdim=True).expand_as(x)
    raise UsageError(f"unknown baseline {kind!r}; valid: {', '.join(BASELINES)}, a (freq,) vector or a tensor")


def _accumulate(fn, n_rows: int, points, weight, n_utt: int, like: torch.Tensor, chunk: int | None) -> torch.Tensor:
    """Sum over rows r of weight(r) * d fn / d point(r), added into the row's utterance."""
    acc = torch.zeros_like(like)
    chunk = chunk or n_rows
    for s in range(0, n_rows, chunk):
        rows = torch.arange(s, min(s + chunk, n_rows), device=like.device)
        pts, utt = points(rows)  # (rows, time, freq), (rows,)
        pts = pts.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(pts, utt).sum(), pts)
        acc.index_add_(0, utt, g * weight(rows))
    return acc


def gradient(fn, x: torch.Tensor) -> torch.Tensor:
    """Signed dS/dx."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x, torch.arange(len(x), device=x.device)).sum(), x)
    return g


def input_x_gradient(fn, x: torch.Tensor) -> torch.Tensor:
    return x.detach() * gradient(fn, x)


def integrated_gradients(
    fn, x: torch.Tensor, baseline="zero", steps: int = 50, rule: str = "gausslegendre", internal_batch_size: int | None = None
) -> torch.Tensor:
    """(x - x') * integral of dS/dx along the straight path (completeness: ``completeness_delta``)."""
    x = x.detach()
    base = make_baseline(baseline, x).detach()
    alphas, weights = (t.to(x.device) for t in quadrature(rule, steps))
    diff, k = x - base, len(alphas)

    def points(rows):
        u, j = rows // k, rows % k
        return base[u] + alphas[j, None, None] * diff[u], u

    acc = _accumulate(fn, len(x) * k, points, lambda rows: weights[rows % k, None, None], len(x), x, internal_batch_size)
    return acc * diff


@torch.no_grad()
def completeness_delta(fn, x: torch.Tensor, attr: torch.Tensor, baseline="zero") -> torch.Tensor:
    """IG's completeness gap S(x) - S(x') - sum(attr) per utterance (0 for exact integration)."""
    x = x.detach()
    idx = torch.arange(len(x), device=x.device)
    return fn(x, idx) - fn(make_baseline(baseline, x), idx) - attr.sum(dim=(1, 2))


def _fit_reference(ref: torch.Tensor, length: int, start: int) -> torch.Tensor:
    """A (time, freq) reference tiled or cropped to ``length`` frames."""
    if len(ref) < length:
        ref = ref.repeat(-(-length // len(ref)), 1)
    start = start % (len(ref) - length + 1)
    return ref[start : start + length]


def expected_gradients(
    fn,
    x: torch.Tensor,
    references: list[torch.Tensor],
    n_samples: int = 50,
    generator: torch.Generator | None = None,
    internal_batch_size: int | None = None,
    noise_std: float = 0.0,
) -> torch.Tensor:
    """Mean over samples of (x~ - x') * dS/dx at x' + a (x~ - x'), x' a reference utterance drawn from
    data (tiled/cropped to x's length), a ~ U(0, 1); x~ = x (+ N(0, noise_std^2) for GradientSHAP)."""
    if not references:
        raise UsageError("expected gradients need reference utterances")
    x = x.detach()
    b, t = x.shape[:2]
    n = b * n_samples
    g = generator or torch.Generator().manual_seed(0)
    which = torch.randint(len(references), (n,), generator=g)  # draws on the generator's device (CPU)
    starts = torch.randint(0, 2**31 - 1, (n,), generator=g)
    alphas = torch.rand(n, generator=g).to(x.device)
    refs = torch.stack([_fit_reference(references[int(w)], t, int(s)) for w, s in zip(which, starts)]).to(x)
    xs = x.repeat_interleave(n_samples, dim=0)  # (n, time, freq), row r belongs to utterance r // n_samples
    if noise_std > 0:
        xs = xs + noise_std * torch.randn(xs.shape, generator=g).to(x.device)
    diff = xs - refs

    def points(rows):
        return refs[rows] + alphas[rows, None, None] * diff[rows], rows // n_samples

    # weight each row's gradient by its own (x~ - x') / n_samples, so accumulation gives the mean
    return _accumulate(fn, n, points, lambda rows: diff[rows] / n_samples, b, x, internal_batch_size)


def gradient_shap(
    fn, x, references: list[torch.Tensor], n_samples: int = 5, stdevs: float = 0.0, generator=None, internal_batch_size=None
) -> torch.Tensor:
    """Captum-style GradientSHAP (``references`` are Captum's baselines): Expected Gradients with
    Gaussian input noise of std ``stdevs``."""
    return expected_gradients(fn, x, references, n_samples, generator, internal_batch_size, noise_std=stdevs)


def smoothgrad(
    fn,
    x: torch.Tensor,
    n_samples: int = 25,
    noise_frac: float = 0.15,
    squared: bool = False,
    generator=None,
    internal_batch_size=None,
) -> torch.Tensor:
    """Mean gradient over x + eps, eps ~ N(0, sigma^2) with sigma per bin = noise_frac * (max_t - min_t)."""
    x = x.detach()
    g = generator or torch.Generator().manual_seed(0)
    sigma = noise_frac * (x.amax(dim=1, keepdim=True) - x.amin(dim=1, keepdim=True))  # (batch, 1, freq)
    noise = torch.randn((len(x) * n_samples, *x.shape[1:]), generator=g).to(x.device)

    def points(rows):
        u = rows // n_samples
        return x[u] + sigma[u] * noise[rows], u

    if not squared:
        return _accumulate(fn, len(noise), points, lambda rows: 1.0 / n_samples, len(x), x, internal_batch_size)
    acc = torch.zeros_like(x)
    for r in range(len(noise)):  # squared gradients cannot be accumulated linearly
        pts, u = points(torch.tensor([r], device=x.device))
        acc[u] += gradient(lambda p, _, u=u: fn(p, u), pts)[0] ** 2 / n_samples
    return acc

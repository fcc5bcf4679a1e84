"""Optimised deletion masks: meaningful perturbation (Fong & Vedaldi 2017) and I-GOS (Qi et al. 2019).

    method(fn, x, ...) -> maps (batch, time, freq), as the input-gradient methods in input_gradients.py.

Both learn, per utterance, a low-resolution preservation mask m in [0, 1] (time/down x freq/down,
bilinearly upsampled; 1 keeps a point, 0 replaces it by ``fill``) that minimises

    S(m * x + (1 - m) * fill) + l1 * mean|1 - m| + tv * (mean|d_t m|^beta + mean|d_f m|^beta)

from m = 1 (nothing deleted): the smallest, smoothest deletion that destroys the target S. The map
returned is the deletion 1 - m (high = salient), so it ranks like every other method's map. ``fill``
``time_mean`` (default) is each bin's own mean over time: the neutral input after mean normalisation.
The original code of both methods for speech was never published; these are re-implementations
with the settings documented in ../shared/reference/saliency.md sections 3.11-3.12 adapted to a
cosine target in [-1, 1] (l1 weighs deleting everything against losing the whole target).

I-GOS's departures from the paper and its code (zhongangqi/IGOS), kept on purpose:
- initial step: the paper's 200 on a raw gradient; here 1 on the max-scaled direction (a mask entry
  moves by at most ``step0``), which does not depend on the target's scale;
- integration points: the paper adds noise (sigma 0.2) to each; here ``noise`` defaults to 0 (set
  it to follow the paper);
- regulariser weights: the paper's l1 0.01 * 300 and tv 0.2 * 300 (tv 20 times l1) for a 112 x 112
  image mask and a softmax target; here l1 1.0 and tv 0.2 for a cosine target in [-1, 1] on a
  (time/down x freq/down) mask, chosen so that deleting everything costs about the whole target;
- no l1 annealing: the paper divides l1 by 10 or 5 mid-run when the score stalls; here l1 is fixed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gradients.input_gradients import make_baseline
from core.errors import UsageError


def _check(iterations: int, down: int, l1: float, tv: float) -> None:
    if iterations < 1 or down < 1 or l1 < 0 or tv < 0:
        raise UsageError(f"mask methods need iterations >= 1, down >= 1, l1 >= 0, tv >= 0; got {iterations}, {down}, {l1}, {tv}")


def _small(x: torch.Tensor, down: int) -> tuple[int, int]:
    return max(1, -(-x.shape[1] // down)), max(1, -(-x.shape[2] // down))  # (time/down, freq/down), rounded up


def _regulariser(m: torch.Tensor, l1: float, tv: float, beta: float) -> torch.Tensor:
    """(batch,) l1 * mean|1 - m| + tv * TV_beta(m) of masks m (batch, 1, t', f')."""
    area = (1 - m).abs().flatten(1).mean(1)
    d_t = (m[:, :, 1:] - m[:, :, :-1]).abs().pow(beta).flatten(1)
    d_f = (m[:, :, :, 1:] - m[:, :, :, :-1]).abs().pow(beta).flatten(1)
    smooth = sum(d.mean(1) if d.shape[1] else d.sum(1) for d in (d_t, d_f))
    return l1 * area + tv * smooth


class _Perturbed:
    """S(up(m) * x + (1 - up(m)) * fill (+ noise)) per utterance, for low-resolution masks m."""

    def __init__(self, fn, x: torch.Tensor, fill: str, noise: float, generator):
        self.fn, self.x, self.base = fn, x, make_baseline(fill, x)
        self.noise, self.generator = noise, generator
        self.rows = torch.arange(len(x), device=x.device)

    def __call__(self, m: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(m, size=self.x.shape[1:], mode="bilinear", align_corners=False)[:, 0]  # (batch, time, freq)
        pts = up * self.x + (1 - up) * self.base
        if self.noise > 0:
            pts = pts + self.noise * torch.randn(pts.shape, generator=self.generator).to(pts.device)
        return self.fn(pts, self.rows)

    def deletion(self, m: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(m.detach(), size=self.x.shape[1:], mode="bilinear", align_corners=False)[:, 0]
        return (1 - up).clamp(0, 1)  # (batch, time, freq)


def meaningful_mask(
    fn,
    x: torch.Tensor,
    iterations: int = 150,
    lr: float = 0.1,
    l1: float = 1.0,
    tv: float = 0.2,
    tv_beta: float = 3.0,
    down: int = 4,
    fill: str = "time_mean",
    noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fong & Vedaldi's mask: Adam on m (lr), clamped to [0, 1] after every step."""
    _check(iterations, down, l1, tv)
    x = x.detach()
    score = _Perturbed(fn, x, fill, noise, generator or torch.Generator().manual_seed(0))
    m = torch.ones(len(x), 1, *_small(x, down), device=x.device, requires_grad=True)  # (batch, 1, t', f')
    opt = torch.optim.Adam([m], lr=lr)
    for _ in range(iterations):
        loss = (score(m) + _regulariser(m, l1, tv, tv_beta)).sum()  # utterances are independent
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            m.clamp_(0, 1)
    return score.deletion(m)


def _integrated_direction(score: _Perturbed, m: torch.Tensor, steps: int) -> torch.Tensor:
    """I-GOS's data-term direction: the gradient w.r.t. m of the mean of S(a_k m) over a_k = k/steps
    (k = 1..steps), i.e. the mean of a_k * dS/dm' at m' = a_k m (the chain rule's a_k factor)."""
    acc = torch.zeros_like(m)
    for k in range(1, steps + 1):
        p = (m * (k / steps)).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(score(p).sum(), p)
        acc += (k / steps) * g / steps
    return acc


def igos(
    fn,
    x: torch.Tensor,
    iterations: int = 15,
    steps: int = 20,
    l1: float = 1.0,
    tv: float = 0.2,
    tv_beta: float = 2.0,
    down: int = 4,
    fill: str = "time_mean",
    noise: float = 0.0,
    step0: float = 1.0,
    armijo_c: float = 1e-4,
    armijo_beta: float = 0.2,
    max_tries: int = 8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """I-GOS: descend along the integrated gradient of S w.r.t. the mask (path a m, a in (0, 1]) plus the
    regulariser's gradient, with an Armijo backtracking line search per utterance. The direction is
    scaled so its largest entry is 1: ``step0`` is the largest change of one mask entry tried first,
    shrunk by ``armijo_beta`` until L(m - t d) <= L(m) - armijo_c * t * <g, d>. After ``max_tries``
    failed tries the utterance takes one more shrink, step0 * armijo_beta ** max_tries, untested (as the
    original code keeps its last shrunk step): a small move, never none. Departures from the paper: the
    module docstring."""
    _check(iterations, down, l1, tv)
    if steps < 1 or step0 <= 0 or not 0 < armijo_beta < 1 or max_tries < 1:
        raise UsageError("igos needs steps >= 1, step0 > 0, 0 < armijo_beta < 1, max_tries >= 1")
    x = x.detach()
    score = _Perturbed(fn, x, fill, noise, generator or torch.Generator().manual_seed(0))
    m = torch.ones(len(x), 1, *_small(x, down), device=x.device)  # (batch, 1, t', f')

    def objective(mask):
        with torch.no_grad():
            return score(mask) + _regulariser(mask, l1, tv, tv_beta)  # (batch,)

    for _ in range(iterations):
        r = m.clone().requires_grad_(True)
        (g_reg,) = torch.autograd.grad(_regulariser(r, l1, tv, tv_beta).sum(), r)
        g = _integrated_direction(score, m, steps) + g_reg
        d = g / g.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
        t = _armijo_steps(objective, m, g, d, step0, armijo_c, armijo_beta, max_tries)
        m = (m - t[:, None, None, None] * d).clamp(0, 1)
    return score.deletion(m)


def _armijo_steps(
    objective, m: torch.Tensor, g: torch.Tensor, d: torch.Tensor, step0: float, c: float, beta: float, max_tries: int
) -> torch.Tensor:
    """Per utterance, the first t in step0 * beta^k (k < max_tries) with L(m - t d) <= L(m) - c t <g, d>;
    an utterance that never satisfies it gets step0 * beta^max_tries. m, g, d: (batch, 1, t', f')."""
    slope = (g * d).flatten(1).sum(1)  # (batch,)
    base, t = objective(m), torch.full((len(m),), step0, device=m.device)
    todo = torch.ones(len(m), dtype=torch.bool, device=m.device)
    for _ in range(max_tries):
        trial = (m - t[:, None, None, None] * d).clamp(0, 1)
        todo &= ~(objective(trial) <= base - c * t * slope)
        if not todo.any():
            break
        t = torch.where(todo, t * beta, t)
    return t

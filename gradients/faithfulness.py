"""Insertion and deletion curves: how faithful is a saliency map to the model it explains?

For one utterance x (time, freq) and a ranking of its units (time-frequency *points* by the map's
value, or whole frequency *rows* by a per-bin weight vector, the unit GFA uses), the inputs at
proportion p are

    insertion: the fill with the top round-down(p * n) units copied in from x;
    deletion:  x with its top round-down(p * n) units replaced by the fill,

n the number of units. Every proportion of an utterance is built at once and classified in batches
(never one process per proportion); the score is closed-set speaker-ID top-1 (and top-5) accuracy
against the true label, and a curve's AUC is the trapezoid over the grid (p and accuracy in [0, 1]).
Insertion at p = 1 and deletion at p = 0 are the unmodified input. Fills: ``time_mean`` (each bin's
own mean over time, the paper's; the neutral input after mean normalisation), ``dataset_mean`` (a
mean spectrum given by the caller) and ``zero``. A whole row filled with any constant is, after the
models' per-bin mean normalisation, the same neutral row: row-level curves do not depend on the fill
for such models (see ../shared/reference/saliency.md section 6). Ties are broken by a seeded random
permutation, so constant regions of a map are not ranked in storage order.
"""

from __future__ import annotations

import numpy as np
import torch
from core.errors import NonFiniteError, UsageError

MODES = ("insertion", "deletion")
LEVELS = ("points", "rows")
FILLS = ("time_mean", "dataset_mean", "zero")
INSERTION_GRID = tuple(round(0.05 * i, 2) for i in range(21))
DELETION_GRID = (
    0.0,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
)  # dense near 0, where deletion curves fall
# The GFA README's legends (misc/insert.png, misc/delete.png): top-1 AUCs of a VoxCeleb2 ThinResNet34,
# point level, time-mean fill; keys are this project's method names.
PUBLISHED = {
    "expected_gradients": (0.7915, 0.0302),
    "igos": (0.7548, 0.0486),
    "integrated_gradients": (0.7472, 0.0363),
    "mask": (0.6868, 0.0623),
    "layer_cam": (0.6540, 0.0587),
    "gradient_shap": (0.6037, 0.1040),
    "fullgrad": (0.6018, 0.3147),
    "grad_cam_pp": (0.5265, 0.5230),
    "gradient": (0.4528, 0.0785),
    "grad_cam": (0.3819, 0.3499),
}


def check_grid(grid, name: str = "grid") -> np.ndarray:
    """The proportions as float64, or ValueError: at least two, strictly increasing, inside [0, 1]."""
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or len(g) < 2 or not np.isfinite(g).all():
        raise UsageError(f"{name}: need at least two finite proportions, got {list(grid)}")
    if (g < 0).any() or (g > 1).any():
        raise UsageError(f"{name}: proportions must lie in [0, 1], got {g.min()}..{g.max()}")
    if (np.diff(g) <= 0).any():
        bad = int(np.argmax(np.diff(g) <= 0))
        raise UsageError(f"{name}: proportions must increase, but {g[bad]} is followed by {g[bad + 1]}")
    return g


def auc(grid, values) -> float:
    """Trapezoid area under ``values`` over ``grid`` (the RISE / sklearn.metrics.auc definition)."""
    g, v = check_grid(grid), np.asarray(values, dtype=np.float64)
    if v.shape != g.shape:
        raise UsageError(f"auc: {len(v)} values for {len(g)} proportions")
    return float(np.sum(np.diff(g) * (v[1:] + v[:-1]) / 2))


def bootstrap_auc(hits: np.ndarray, grid, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the AUC of the mean curve, resampling utterances with replacement;
    ``hits`` is (utterances, proportions) of 0/1."""
    h = np.asarray(hits, dtype=np.float64)
    g = check_grid(grid)
    idx = np.random.default_rng(seed).integers(0, len(h), (n_boot, len(h)))  # (boot, utterances)
    curves = h[idx].mean(axis=1)  # (boot, proportions)
    aucs = np.sum(np.diff(g) * (curves[:, 1:] + curves[:, :-1]) / 2, axis=1)
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return float(lo), float(hi)


def paired_auc_difference(
    hits_a: np.ndarray, hits_b: np.ndarray, grid, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """(AUC(a) - AUC(b), 95 % low, high) of two methods' mean curves on the same utterances: both are
    resampled with the same utterance draws, so the interval is for their difference. ``hits_*`` are
    (utterances, proportions) of 0/1, row i of both from utterance i."""
    a, b = np.asarray(hits_a, dtype=np.float64), np.asarray(hits_b, dtype=np.float64)
    if a.shape != b.shape:
        raise UsageError(f"paired AUC: {a.shape} and {b.shape} hits are not the same utterances x proportions")
    g = check_grid(grid)
    d = a - b  # (utterances, proportions): the AUC is linear in the curve
    idx = np.random.default_rng(seed).integers(0, len(d), (n_boot, len(d)))  # (boot, utterances)
    curves = d[idx].mean(axis=1)  # (boot, proportions)
    diffs = np.sum(np.diff(g) * (curves[:, 1:] + curves[:, :-1]) / 2, axis=1)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return auc(g, d.mean(axis=0)), float(lo), float(hi)


def unit_counts(grid: np.ndarray, n: int) -> np.ndarray:
    """round-down(p * n) per proportion, robust to binary fractions (0.29 * 100 is 29, not 28)."""
    return np.floor(np.asarray(grid) * n + 1e-6).astype(np.int64)


def ranks(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of every element (0 = most salient = largest value), same shape; ties in a random order."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(flat).all():
        raise NonFiniteError("NaN or inf in a saliency map")
    perm = rng.permutation(flat.size)
    order = perm[np.argsort(-flat[perm], kind="stable")]
    r = np.empty(flat.size, dtype=np.int64)
    r[order] = np.arange(flat.size)
    return r.reshape(np.shape(values))


def smooth(m: np.ndarray, size: int) -> np.ndarray:
    """Box average of a (time, freq) map over size x size neighbours (edges: the points present)."""
    if size <= 1:
        return m
    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]  # (1, 1, time, freq)
    out = torch.nn.functional.avg_pool2d(t, size, stride=1, padding=size // 2, count_include_pad=False)
    return out[0, 0, : m.shape[0], : m.shape[1]].numpy()


def fill_for(kind: str, x: torch.Tensor, dataset_mean: torch.Tensor | None = None) -> torch.Tensor:
    """The replacement values (time, freq) of utterance x (time, freq)."""
    if kind == "time_mean":
        return x.mean(dim=0, keepdim=True).expand_as(x)
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "dataset_mean":
        if dataset_mean is None or dataset_mean.shape != x.shape[1:]:
            raise UsageError(f"fill dataset_mean needs a ({x.shape[1]},) mean spectrum")
        return dataset_mean.to(x).expand_as(x)
    raise UsageError(f"unknown fill {kind!r}; valid: {', '.join(FILLS)}")


def perturbed(x: torch.Tensor, rank: torch.Tensor, ks: torch.Tensor, mode: str, fill: torch.Tensor) -> torch.Tensor:
    """(proportions, time, freq) inputs: ``rank`` is (time, freq) for points or (freq,) for rows, ``ks``
    the number of top units per proportion."""
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    top = rank.to(x.device)[None] < ks.to(x.device).view(-1, *([1] * rank.dim()))  # (P, time, freq) or (P, freq)
    if rank.dim() == 1:
        top = top[:, None, :]  # rows: the same bins at every frame
    return torch.where(top, x, fill) if mode == "insertion" else torch.where(top, fill, x)


def hits(logits: torch.Tensor, label: int, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(top-1, top-k) correctness per row of logits (rows, classes)."""
    idx = logits.topk(min(k, logits.shape[1]), dim=1).indices  # (rows, k)
    return (idx[:, 0] == label).cpu().numpy(), (idx == label).any(1).cpu().numpy()


def utterance_curves(
    classify,
    x: torch.Tensor,
    label: int,
    rankings: dict,
    grids: dict,
    fills: dict,
    batch_size: int = 64,
    specs: list | None = None,
) -> dict:
    """Correctness of every (ranking key, fill, mode) curve of one utterance.

    ``classify(batch) -> logits``; ``rankings``: key -> rank tensor ((time, freq) points or (freq,)
    rows); ``grids``: mode -> proportions; ``fills``: name -> (time, freq) values; ``specs`` the
    (key, fill, mode) curves wanted (default: every combination). Returns {(key, fill, mode): (top1,
    top5)} boolean arrays over the mode's grid."""
    specs = specs or [(key, f, mode) for key in rankings for f in fills for mode in grids]
    rows = [(s, int(k)) for s in specs for k in unit_counts(grids[s[2]], rankings[s[0]].numel())]
    top1, top5 = np.zeros(len(rows), bool), np.zeros(len(rows), bool)
    for i in range(0, len(rows), batch_size):
        part = rows[i : i + batch_size]
        batch = torch.cat([perturbed(x, rankings[key], torch.tensor([k]), mode, fills[f]) for (key, f, mode), k in part])
        with torch.no_grad():
            top1[i : i + len(part)], top5[i : i + len(part)] = hits(classify(batch), label)
    out, at = {}, 0
    for s in specs:
        n = len(grids[s[2]])
        out[s] = (top1[at : at + n], top5[at : at + n])
        at += n
    return out

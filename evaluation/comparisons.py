"""Paired comparisons of a prior experiment (steps/prior_table.py): pre-declared primaries with Holm's
correction, exploratory comparisons marked as such, two-level intervals, minimum detectable differences.

A comparison "A vs B" pairs the runs of priors A and B that share a seed (same student initialisation
and egs order). Its difference is mean over paired seeds of metric(A) - metric(B); negative is better.
Intervals come from ``two_level_differences`` (seeds and test speakers both resampled). The p-value
is the two-level bootstrap's; over the primaries it is Holm-adjusted, and each primary's interval is
at Holm's level for its rank, so "excludes 0" and "rejected by Holm" agree. Exploratory comparisons
get plain 95 % intervals and unadjusted p-values, and say so.
"""

from __future__ import annotations

import numpy as np

from evaluation.stats import (
    bootstrap_p,
    holm,
    holm_levels,
    min_detectable,
    quantile_interval,
    seeds_needed,
    two_level_differences,
)
from core.errors import UsageError


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """'gradient:none ig:none' -> [('gradient', 'none'), ('ig', 'none')]."""
    pairs = []
    for item in text.replace(",", " ").split():
        a, sep, b = item.partition(":")
        if not sep or not a or not b or a == b:
            raise UsageError(f"comparison {item!r}: want PRIOR:BASELINE with two different priors, e.g. gradient:none")
        pairs.append((a, b))
    if len(set(pairs)) != len(pairs):
        raise UsageError(f"comparisons {text!r}: one is listed twice")
    return pairs


def paired_indices(runs: list[dict], a: str, b: str) -> tuple[list[int], list[int]]:
    """Indices into ``runs`` of the A and B runs that share a seed, in seed order."""
    ia = {r["seed"]: i for i, r in enumerate(runs) if r["prior"] == a}
    ib = {r["seed"]: i for i, r in enumerate(runs) if r["prior"] == b}
    seeds = sorted(set(ia) & set(ib))
    return [ia[s] for s in seeds], [ib[s] for s in seeds]


def one(
    runs: list[dict], boot: np.ndarray, pair: tuple[str, str], j: int, key: str, alpha: float, power: float, seed: int
) -> dict | None:
    """The comparison pair[0] vs pair[1] on metric ``key`` (column ``j`` of ``boot``: (runs, resamples,
    keys)); None without a paired seed. Its MDE is at ``alpha``."""
    ia, ib = paired_indices(runs, *pair)
    if not ia:
        return None
    d = np.array([runs[x]["m"][key] - runs[y]["m"][key] for x, y in zip(ia, ib)])  # (paired seeds,)
    diffs = two_level_differences(boot[ia, :, j], boot[ib, :, j], seed=seed)  # (replicates,)
    sd = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
    return {
        "a": pair[0],
        "b": pair[1],
        "metric": key,
        "seeds": len(d),
        "diff": float(d.mean()),
        "paired_sd": sd,
        "p": bootstrap_p(diffs),
        "diffs": diffs,
        "mde": min_detectable(sd, len(d), alpha, power),
    }


def compare(
    runs: list[dict],
    boot: np.ndarray,
    keys: tuple[str, ...],
    primaries: list[tuple[str, str]],
    exploratory: list[tuple[str, str]],
    level: float = 0.95,
    power: float = 0.8,
    seed: int = 0,
) -> list[dict]:
    """One row per (comparison, metric): primaries first (Holm over the primaries, per metric), then
    the exploratory ones. A comparison without a paired seed is left out. A primary's MDE is at
    alpha / (number of primaries), Holm's strictest step."""
    alpha = 1 - level
    rows = []
    for j, key in enumerate(keys):
        prim = [one(runs, boot, pr, j, key, alpha / max(len(primaries), 1), power, seed) for pr in primaries]
        prim = [r for r in prim if r is not None]
        p = np.array([r["p"] for r in prim])
        for r, padj, lev in zip(prim, holm(p), holm_levels(p, level)):
            r.update(kind="primary", p_holm=float(padj), level=float(lev))
        expl = [r for r in (one(runs, boot, pr, j, key, alpha, power, seed) for pr in exploratory) if r is not None]
        for r in expl:
            r.update(kind="exploratory", p_holm=float("nan"), level=level)
        rows += prim + expl
    for r in rows:
        r["lo"], r["hi"] = quantile_interval(r.pop("diffs"), r["level"])
    return rows


def seeds_to_run(rows: list[dict], detect: float, alpha: float, power: float, most: int) -> dict:
    """Seeds each primary needs to detect ``detect`` (EER) at ``power`` with alpha / (number of primaries)
    (Bonferroni: Holm's first step, so enough for Holm too), from its pilot paired sd."""
    prim = [r for r in rows if r["kind"] == "primary" and r["metric"] == "eer"]
    need = {
        f"{r['a']} vs {r['b']}": seeds_needed(r["paired_sd"], detect, alpha / max(len(prim), 1), power, most)
        for r in prim
        if np.isfinite(r["paired_sd"])
    }
    return need

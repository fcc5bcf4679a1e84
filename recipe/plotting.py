"""Figures shared by the entry points: DET curves of one or several systems on probit axes, the
frequency axis of a feature conf, and atomic PNG + PDF saving."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from datasets.feat_opts import read_options
from datasets.kaldi_feats import bin_axis
from evaluation.metrics import det_points, operating_points

# DET axes: probit-scaled error rates from 0.01 % to 99 %, the range scores of real systems span
DET_TICKS = np.array([0.0001, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99])
DET_LIMITS = (0.00005, 0.995)
MARKERS = {"eer": ("o", "EER"), "mindcf_0.01": ("s", "minDCF p=0.01"), "mindcf_0.001": ("^", "minDCF p=0.001")}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def probit(p) -> np.ndarray:
    from scipy.stats import norm

    return norm.ppf(np.clip(np.asarray(p, dtype=np.float64), *DET_LIMITS))


def det_axes(ax) -> None:
    """Probit axes labelled in percent, 0.01 % to 99 %."""
    ticks = probit(DET_TICKS)
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    lim = probit(DET_LIMITS)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_xlabel("false alarm rate (%)")
    ax.set_ylabel("miss rate (%)")
    ax.plot(lim, lim, color="0.8", lw=0.8, ls=":")  # the EER line fpr = fnr
    ax.grid(alpha=0.3)


def draw_det(ax, scores, labels, label: str, color) -> dict:
    """One system's DET curve with its EER and minDCF operating points marked; returns the points."""
    fpr, fnr = det_points(scores, labels)
    points = operating_points(scores, labels)
    ax.plot(probit(fpr), probit(fnr), color=color, lw=1.2, label=f"{label} (EER {100 * points['eer']['value']:.2f}%)")
    for key, (marker, _) in MARKERS.items():
        pt = points[key]
        ax.plot(probit(pt["fpr"]), probit(pt["fnr"]), marker=marker, color=color, ms=5, mfc="white", ls="none")
    return points


def det_figure(systems: list[tuple[str, np.ndarray, np.ndarray]], title: str):
    """A DET plot of (label, scores, labels) systems; markers: EER (o), minDCF 0.01 (s), 0.001 (^)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    det_axes(ax)
    for i, (label, scores, labels) in enumerate(systems):
        draw_det(ax, scores, labels, label, f"C{i % 10}")
    for marker, name in MARKERS.values():  # marker legend entries, in black
        ax.plot([], [], marker=marker, color="k", mfc="white", ls="none", label=name)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def save(fig, stem: Path, formats=("png", "pdf")) -> None:
    """``stem``.png and .pdf, each written atomically."""
    for ext in formats:
        with atomic_path(stem.parent / f"{stem.name}.{ext}") as tmp:
            fig.savefig(tmp, dpi=110, format=ext)


def feature_axes(exp: Path, inputs: dict, n_bins: int) -> tuple[np.ndarray, str, float]:
    """(value of each bin, axis label, frames per second) from the experiment's own feature conf."""
    conf = exp / inputs["feat_conf"] if inputs.get("feat_conf") else None
    if conf is None:
        print(f"warning: {exp} records no feature conf; axes assume Kaldi's {inputs['feat_type']} defaults", file=sys.stderr)
    opts, _ = read_options(inputs["feat_type"], conf)
    axis, label = bin_axis(opts)
    if len(axis) != n_bins:
        print(f"warning: {n_bins} bins but the feature options give {len(axis)}; plotting against the bin index", file=sys.stderr)
        return np.arange(n_bins, dtype=np.float64), "feature bin", 1000.0 / opts.frame.frame_shift
    return axis, label, 1000.0 / opts.frame.frame_shift

"""What a finished training run reports about itself: the per-epoch curves as a CSV and a plot, the
convergence verdict (training/budget.py) in the log, ``training.json`` and ``results.md``.

    <exp>/log/training.csv      epoch, step, train/valid loss and accuracy, lr, margin, seconds
    <exp>/plots/training.png    loss and accuracy against steps, the verdict's window shaded
    <exp>/training.json         budget, verdict, figures (what bench/ and the prior experiment read)
    <exp>/results.md            a "Training:" line above the scores table (steps.score keeps it)
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from core.atomic import atomic_write_text
from recipe.plotting import pyplot, save
from training.budget import Budget, Verdict

COLUMNS = ("epoch", "step", "train_loss", "valid_loss", "train_acc", "valid_acc", "lr", "margin", "seconds")
TITLE = "# Results of {}\n\n"


def write_csv(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(history)
    atomic_write_text(path, buf.getvalue())


def plot(path: Path, history: list[dict], budget: Budget, verdict: Verdict, window: float, name: str) -> None:
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = [r["step"] for r in history]
    for ax, key, label in ((ax_loss, "loss", "loss (AAM, with margin)"), (ax_acc, "acc", "accuracy")):
        ax.plot(steps, [r[f"train_{key}"] for r in history], "o-", ms=3, label="training")
        ax.plot(steps, [r[f"valid_{key}"] for r in history], "s-", ms=3, label="validation")
        ax.axvspan((1 - window) * budget.steps, budget.steps, color="0.9", label=f"last {window:.0%} of the budget")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        ax.set_xlim(0, budget.steps * 1.02)
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1)
    ax_loss.set_yscale("log")  # the tail of an AAM loss near 0 is where convergence is read
    ax_loss.legend(fontsize=8)
    fig.suptitle(f"{name}: {verdict.text.split(':')[0]} ({budget.steps:,} steps)", fontsize=10)
    fig.tight_layout()
    save(fig, path.with_suffix(""), formats=("png",))
    plt.close(fig)


def results_line(exp: Path, text: str) -> None:
    """Put ``Training: text`` under the title of <exp>/results.md, replacing an older one."""
    path = exp / "results.md"
    old = path.read_text() if path.exists() else TITLE.format(exp.name)
    lines = [ln for ln in old.splitlines(keepends=True) if not ln.startswith("Training: ")]
    title_end = 2 if len(lines) >= 2 and lines[0].startswith("# ") else 0
    lines[title_end:title_end] = [f"Training: {text}\n", "\n"]
    atomic_write_text(path, "".join(lines).replace("\n\n\n", "\n\n"))


def report(exp: Path, history: list[dict], budget: Budget, verdict: Verdict, window: float) -> None:
    write_csv(exp / "log" / "training.csv", history)
    (exp / "plots").mkdir(parents=True, exist_ok=True)
    plot(exp / "plots" / "training.png", history, budget, verdict, window, exp.name)
    record = {
        "steps": budget.steps,
        "budget": budget.how,
        "converged": verdict.converged,
        "verdict": verdict.text,
        "final": history[-1] if history else {},
    }
    atomic_write_text(exp / "training.json", json.dumps(record, indent=1) + "\n")
    results_line(exp, f"{budget.how}; {verdict.text}")

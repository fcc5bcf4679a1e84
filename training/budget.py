"""The training budget (optimizer steps, derived from the data unless the YAML names one) and the
convergence verdict read from the per-epoch history.

Budget: ``train.steps`` if given, else ``train.epochs`` passes, else ``train.passes`` passes over the
egs (the default), so a corpus with twice the egs trains twice the steps with no edit to a YAML. The
LR warm-up and the margin warm-up are fractions of this one count (training/optim.py, losses/margin.py).

Convergence (``converged``): the validation loss at the end of the budget against that of the last
epoch that ended at or before ``1 - window`` of it (default: the last quarter). The fall over that
window is measured as a share of the run's whole fall (from its worst epoch to the end); the run is
converged when that share is under ``tol`` (default 3 %): a loss still falling that much while the
learning rate decays to its floor means more steps would have paid. (A share, not a relative change:
an AAM loss near 0 halves with every small gain.) Without validation egs, or with fewer than 50 (too noisy to judge by), the training loss
stands in, and the verdict says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    steps: int  # optimizer steps in total (per process)
    batches_per_epoch: int  # one epoch = one pass over the egs
    how: str  # how the number was reached, for the log

    @property
    def epochs(self) -> int:
        return math.ceil(self.steps / self.batches_per_epoch)


def resolve_budget(train: dict, n_egs: int, batches_per_epoch: int, world: int = 1) -> Budget:
    """``train`` is a resolved ``train`` section: at most one of steps / epochs is non-zero."""
    per = f"{batches_per_epoch:,} batches of {train['batch_size']}" + (f" x {world} processes" if world > 1 else "")
    if train["steps"]:
        n = train["steps"]
        how = f"{n:,} steps (train.steps) = {n / batches_per_epoch:.1f} passes over {n_egs:,} egs ({per} a pass)"
    elif train["epochs"]:
        n = train["epochs"] * batches_per_epoch
        how = f"{n:,} steps = {train['epochs']} epochs (train.epochs) over {n_egs:,} egs ({per} a pass)"
    else:
        n = max(1, round(train["passes"] * batches_per_epoch))
        how = f"{n:,} steps = {train['passes']:g} passes (train.passes) over {n_egs:,} egs ({per} a pass)"
    return Budget(n, batches_per_epoch, how)


def fraction_steps(fraction: float, total: int) -> int:
    return int(round(fraction * total))


@dataclass(frozen=True)
class Verdict:
    converged: bool | None  # None: too few epochs to tell
    text: str  # one line for the log and results.md


MIN_VALID_EGS = 50  # fewer held-out egs give a validation loss too noisy to judge by


def converged(
    history: list[dict], total_steps: int, window: float = 0.25, tol: float = 0.03, valid_egs: int = MIN_VALID_EGS
) -> Verdict:
    """The verdict on a finished run's per-epoch rows (``step``, ``valid_loss``, ``train_loss``); with
    fewer than MIN_VALID_EGS validation egs the training loss is judged instead, and the text says so."""
    finite = history and all(math.isfinite(r.get("valid_loss", math.nan)) for r in history)
    key = "valid_loss" if finite and valid_egs >= MIN_VALID_EGS else "train_loss"
    what = (
        "validation loss"
        if key == "valid_loss"
        else "training loss (no validation egs)"
        if not finite
        else f"training loss (only {valid_egs} validation egs, fewer than {MIN_VALID_EGS})"
    )
    cut = (1.0 - window) * total_steps
    before = [r for r in history if r["step"] <= cut]
    if not before or len(history) < 2 or history[-1]["step"] <= before[-1]["step"]:
        return Verdict(
            None,
            f"convergence unknown: too few epochs to compare the {what} over the last "
            f"{window:.0%} of the budget (give more steps, or several epochs)",
        )
    a, b, high = before[-1][key], history[-1][key], max(r[key] for r in history)
    if high - b <= 0:
        return Verdict(False, f"not converged: the {what} never fell below its worst value {high:.4g} (did it learn?)")
    share = (a - b) / (high - b)  # the last window's part of everything the run gained
    figures = (
        f"{what} {a:.4g} at step {before[-1]['step']:,} -> {b:.4g} at step {history[-1]['step']:,}: "
        f"the last {window:.0%} of the budget made {100 * share:.1f} % of the run's fall from {high:.4g} "
        f"(tolerance {100 * tol:g} %)"
    )
    if share < tol:
        return Verdict(True, f"converged: {figures}")
    return Verdict(False, f"not converged: raise train.steps (or epochs, or passes): {figures}")


def chance_warning(row: dict, num_classes: int, last: bool = False) -> str:
    """A warning, or '': validation accuracy within 2x chance (1 / classes) while training accuracy is
    well above it (over 10x chance and 20 %); or, at the end, training accuracy itself within 2x chance."""
    chance = 1.0 / max(num_classes, 1)
    acc, train = row.get("valid_acc", math.nan), row.get("train_acc", math.nan)
    figures = f"(1/{num_classes} = {100 * chance:.2f} %)"
    if last and train < 2 * chance:
        return (
            f"warning: training accuracy {100 * train:.2f} % never left chance {figures}: the model did not "
            "learn (learning rate, budget, or labels)"
        )
    if math.isfinite(acc) and acc < 2 * chance and train > max(10 * chance, 0.2):
        return (
            f"warning: validation accuracy {100 * acc:.2f} % is at chance {figures} after the warm-up, while "
            f"training accuracy is {100 * train:.1f} %: the held-out utterances do not look like the training "
            "ones (one recording per speaker? a split by session?), or the model only memorises"
        )
    return ""

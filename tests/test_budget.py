"""The training budget (steps from the data), the LR and margin warm-up fractions, the convergence
verdict and the chance-accuracy warnings: units on constructed histories, then real tiny runs."""

import math

import pytest
import torch

from core.errors import ConfigError
from recipe.config import load_config
from training.budget import chance_warning, converged, resolve_budget
from training.optim import build_optimizer, build_scheduler

TRAIN = {"steps": 0, "epochs": 0, "passes": 30.0, "batch_size": 64}


def test_budget_from_passes_scales_with_the_corpus():
    b = resolve_budget(TRAIN, 5120, 80)
    assert b.steps == 2400 and b.how.startswith("2,400 steps = 30 passes (train.passes) over 5,120 egs")
    assert resolve_budget(TRAIN, 10240, 160).steps == 4800  # twice the egs, twice the steps
    assert resolve_budget({**TRAIN, "epochs": 3}, 5120, 80).steps == 240
    b = resolve_budget({**TRAIN, "steps": 100}, 5120, 80)
    assert b.steps == 100 and b.epochs == 2 and "1.2 passes" in b.how


def test_config_budget_and_margin_keys(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("model: {name: ResCNN}\ntrain: {epochs: 3, steps: 10}\n")
    with pytest.raises(ConfigError, match="train.steps or train.epochs, not both"):
        load_config(y)
    cfg = load_config(y, ["train.steps=7"])  # the command line's budget replaces the YAML's
    assert cfg["train"]["steps"] == 7 and cfg["train"]["epochs"] == 0
    y.write_text("model: {name: ResCNN}\nmargin_warmup: {steps: 10, fraction: 0.2}\n")
    with pytest.raises(ConfigError, match="steps/start or fraction/start_fraction"):
        load_config(y)
    assert load_config(y, ["margin_warmup.fraction=0.3"])["margin_warmup"]["steps"] == 0
    y.write_text("model: {name: ResCNN}\nmargin_warmup: {fraction: 0.8, start_fraction: 0.5}\n")
    with pytest.raises(ConfigError, match="must be <= 1"):
        load_config(y)


def test_cosine_warmup_and_no_decay_on_1d_params():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    opt = build_optimizer(
        {"name": "Adam", "lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.1, "decay_norm_bias": False}, net.parameters()
    )
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert [len(g["params"]) for g in opt.param_groups] == [1, 3]  # the weight; bias, BN weight and bias
    sched, when = build_scheduler({"name": "CosineAnnealingLR", "min_lr": 1e-5, "warmup": 0.1}, opt, 100, 10)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert when == "batch" and lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10])) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5, rel=1e-3)  # the floor at the end of the budget


def rows(losses, steps_per_epoch=10):
    return [{"step": (i + 1) * steps_per_epoch, "valid_loss": v, "train_loss": v + 1} for i, v in enumerate(losses)]


def test_convergence_verdict():
    flat = converged(rows([5, 3, 2, 1.5, 1.3, 1.25, 1.22, 1.21]), 80)  # 0.04 of a 3.79 fall in the last quarter
    assert flat.converged is True and flat.text.startswith("converged") and "made 1.1 % of the run's fall" in flat.text
    falling = converged(rows([5, 4, 3.5, 3, 2.7, 2.4, 2.1, 1.8]), 80)  # stopped too early
    assert falling.converged is False and "raise train.steps" in falling.text and "made 18.7 %" in falling.text
    near_zero = converged(rows([6, 3, 1, 0.3, 0.2, 0.14, 0.12, 0.1]), 80)  # -29 % relative, 0.7 % of the fall
    assert near_zero.converged is True
    rising = converged(rows([5, 3, 2, 1.5, 1.3, 1.2, 1.3, 1.4]), 80)  # overfitting is not "still falling"
    assert rising.converged is True
    never = converged(rows([5, 5.5, 6, 6.2]), 40)
    assert never.converged is False and "never fell" in never.text
    no_valid = converged([{**r, "valid_loss": math.nan} for r in rows([5, 4, 3, 2])], 40)
    assert no_valid.converged is False and "training loss (no validation egs)" in no_valid.text
    assert converged(rows([5]), 10).converged is None
    few = converged(rows([5, 3, 2, 1.5, 1.3, 1.25, 1.22, 1.21]), 80, valid_egs=4)  # judged on training loss
    assert "training loss (only 4 validation egs, fewer than 50)" in few.text


def test_chance_warnings():
    assert "is at chance (1/170 = 0.59 %)" in chance_warning({"valid_acc": 0.0, "train_acc": 0.48}, 170)
    assert chance_warning({"valid_acc": 0.0, "train_acc": 0.03}, 40) == ""  # still learning: no warning
    assert chance_warning({"valid_acc": 0.3, "train_acc": 0.9}, 40) == ""
    assert "never left chance" in chance_warning({"valid_acc": math.nan, "train_acc": 0.02}, 40, last=True)


def test_switching_the_scheduler_drops_the_old_ones_keys_aloud(capsys):
    from conftest import ROOT

    cfg = load_config(ROOT / "conf" / "demo_rescnn.yaml", ["scheduler.name=ReduceLROnPlateau"])
    assert "warmup" not in cfg["scheduler"] and cfg["scheduler"]["patience"] == 2
    assert "dropped warmup (not a key of ReduceLROnPlateau)" in capsys.readouterr().err

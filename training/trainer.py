"""The training loop (nanoGPT-style, plain): epochs of egs batches, validation every epoch, a test
callback every ``test_every`` epochs, atomic self-describing checkpoints, exact resume.

Everything the loop needs is passed in; the entry point (steps/train.py) does the I/O. Resume is
exact on CPU: data order and crops derive from (seed, epoch, batch position), the DataLoader has its
own generator, and the checkpoint carries the torch RNG state, so a run killed at any point and
restarted ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from losses.margin import MarginScheduler
from training.budget import chance_warning
from training.checkpoint import keep_last, save_checkpoint
from core.errors import GfaError


class NaNLossError(GfaError, RuntimeError):
    pass


class Net(nn.Module):
    """Model + classification head, so that DDP synchronises both."""

    def __init__(self, model: nn.Module, head: nn.Module):
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: torch.Tensor, y: torch.Tensor):  # (batch, time, freq), (batch,)
        return self.head.loss(self.model(x), y)


@dataclass
class Progress:
    epoch: int = 0  # completed epochs
    batch_in_epoch: int = 0  # batches done in the current epoch
    step: int = 0  # optimiser steps in total
    history: list = field(default_factory=list)
    sums: list = field(default_factory=lambda: [0.0, 0, 0])  # this epoch so far: loss * n, correct, n


@dataclass(kw_only=True)
class Trainer:
    """Built with keywords only; ``sched_step`` (batch | epoch | plateau) comes from the scheduler registry."""

    net: nn.Module  # Net, possibly wrapped in DistributedDataParallel
    optimizer: torch.optim.Optimizer
    scheduler: object
    sched_step: str
    margin: MarginScheduler
    sampler: object  # CropBatchSampler (set_epoch)
    train_loader: object
    valid_loader: object | None
    cfg: dict
    ckpt_dir: Path
    log: callable
    device: torch.device
    rank: int = 0
    evaluate: callable = None  # model -> {name: value}, on test epochs (rank 0)
    save_every_steps: int = 0
    progress: callable = None  # (batch iterator, batches this epoch) -> wrapped iterator (tqdm)
    total_steps: int = 0  # the budget (training/budget.py); 0: train.epochs whole epochs
    budget: object = None  # training/budget.Budget it came from (for the report), if any
    warmup_steps: int = 0  # LR and margin warm-up: no chance-accuracy warning before it ends
    num_classes: int = 0
    state: Progress = field(default_factory=Progress)

    def __post_init__(self):
        self.amp = self.cfg["train"]["amp"]
        # one scaler for the whole run, saved in checkpoints (fp16 on CUDA only; a no-op otherwise)
        self.scaler = torch.amp.GradScaler(enabled=self.amp == "fp16" and self.device.type == "cuda")
        if not self.total_steps:
            self.total_steps = self.cfg["train"]["epochs"] * len(self.sampler)

    @property
    def inner(self) -> Net:
        return getattr(self.net, "module", self.net)

    def checkpoint(self) -> dict:
        return {
            "model": self.inner.model.state_dict(),
            "head": self.inner.head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "margin": self.margin.state_dict(),
            "epoch": self.state.epoch,
            "batch_in_epoch": self.state.batch_in_epoch,
            "step": self.state.step,
            "history": self.state.history,
            "epoch_sums": list(self.state.sums),
            "config": self.cfg,
            "torch_rng": torch.get_rng_state(),
            "scaler": self.scaler.state_dict(),
        }

    def restore(self, ck: dict) -> None:
        self.inner.model.load_state_dict(ck["model"])
        self.inner.head.load_state_dict(ck["head"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        self.margin.load_state_dict(ck["margin"])
        if ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        self.state = Progress(
            ck["epoch"], ck["batch_in_epoch"], ck["step"], list(ck["history"]), list(ck.get("epoch_sums", [0.0, 0, 0]))
        )
        torch.set_rng_state(ck["torch_rng"])

    def _save(self, epoch_end: bool) -> None:
        if self.rank != 0:
            return
        ck = self.checkpoint()
        if epoch_end:
            save_checkpoint(self.ckpt_dir / f"checkpoint_{self.state.epoch}.pt", ck)
            keep_last(self.ckpt_dir, self.cfg["train"]["keep_last"])
        save_checkpoint(self.ckpt_dir / "last.pt", ck)

    def _autocast(self):
        if self.amp == "none":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if self.amp == "bf16" else torch.float16)

    def train_epoch(self) -> tuple[float, float]:
        self.net.train()
        epoch = self.state.epoch
        self.sampler.set_epoch(epoch, self.state.batch_in_epoch)
        sums = self.state.sums  # a resumed epoch's metrics count the batches before the resume too
        left = min(len(self.sampler) - self.state.batch_in_epoch, self.total_steps - self.state.step)
        batches = self.progress(self.train_loader, left) if self.progress else self.train_loader
        for x, y in batches:
            if self.state.step >= self.total_steps:  # the budget ends inside this epoch
                break
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                loss, logits = self.net(x, y)
            if not torch.isfinite(loss):
                raise NaNLossError(
                    f"non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {self.state.step + 1} "
                    f"(batch {self.state.batch_in_epoch + 1} of the epoch) at learning rate "
                    f"{self.optimizer.param_groups[0]['lr']:.3g}: it diverged (lower optim.lr, or set "
                    f"train.grad_clip); the last good checkpoint is kept in {self.ckpt_dir}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if self.cfg["train"]["grad_clip"]:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg["train"]["grad_clip"])
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.sched_step == "batch":
                self.scheduler.step()
            self.margin.step()
            self.state.step += 1
            self.state.batch_in_epoch += 1
            sums[0] += loss.item() * len(y)
            sums[1] += (logits.argmax(1) == y).sum().item()
            sums[2] += len(y)
            if self.save_every_steps and self.state.step % self.save_every_steps == 0:
                self._save(epoch_end=False)
            if self.state.step >= self.total_steps:  # no batch is read past the budget
                break
        self.state.sums = [0.0, 0, 0]
        return sums[0] / max(sums[2], 1), sums[1] / max(sums[2], 1)

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        if self.valid_loader is None:
            return math.nan, math.nan
        net = self.inner.eval()
        total, correct, seen = 0.0, 0, 0
        for x, y in self.valid_loader:
            x, y = x.to(self.device), y.to(self.device)
            with self._autocast():
                loss, logits = net(x, y)
            total += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        return total / max(seen, 1), correct / max(seen, 1)

    def _end_epoch(self, train_loss, train_acc, valid_loss, valid_acc, seconds) -> dict:
        if self.sched_step == "plateau":
            self.scheduler.step(valid_loss if math.isfinite(valid_loss) else train_loss)
        elif self.sched_step == "epoch":
            self.scheduler.step()
        self.state.epoch += 1
        self.state.batch_in_epoch = 0
        row = {
            "epoch": self.state.epoch,
            "step": self.state.step,
            "train_loss": round(train_loss, 5),
            "train_acc": round(train_acc, 5),
            "valid_loss": round(valid_loss, 5),
            "valid_acc": round(valid_acc, 5),
            "lr": self.optimizer.param_groups[0]["lr"],
            "margin": round(self.inner.head.margin, 4),
            "seconds": round(seconds, 1),
        }
        every, last = self.cfg["train"]["test_every"], self.state.step >= self.total_steps
        if self.evaluate is not None and self.rank == 0 and (self.state.epoch % every == 0 or last):
            row.update(self.evaluate(self.inner.model))
        return row

    def epoch_line(self, row: dict) -> str:
        """``epoch 9/12 step 360/480 train_loss ...``: where the run is in its budget, then the row."""
        epochs = -(-self.total_steps // len(self.sampler))  # ceil: the budget may end inside an epoch
        rest = " ".join(log_field(k, v) for k, v in row.items() if k not in ("epoch", "step"))
        return f"epoch {row['epoch']}/{epochs} step {row['step']}/{self.total_steps} {rest}"

    def fit(self) -> list[dict]:
        while self.state.step < self.total_steps or self.state.batch_in_epoch:  # a resumed last epoch ends too
            t0 = time.time()
            train_loss, train_acc = self.train_epoch()
            valid_loss, valid_acc = self.validate() if self.rank == 0 else (math.nan, math.nan)
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                stats = torch.tensor([valid_loss], dtype=torch.float64)
                torch.distributed.broadcast(stats, 0)  # every rank steps the plateau scheduler alike
                valid_loss = stats.item()
            row = self._end_epoch(train_loss, train_acc, valid_loss, valid_acc, time.time() - t0)
            self.state.history.append(row)
            self.log(self.epoch_line(row))
            last = self.state.step >= self.total_steps
            if row["step"] > self.warmup_steps and self.rank == 0 and (warn := chance_warning(row, self.num_classes, last)):
                self.log(warn)
            self._save(epoch_end=True)
        return self.state.history


def log_field(key: str, value) -> str:
    """``key value`` for train.log; an EER in percent, as the scorer prints it."""
    if key.endswith("_eer") and isinstance(value, float):
        return f"{key} {100 * value:.2f}%"
    return f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"

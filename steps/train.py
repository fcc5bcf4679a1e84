"""Train a speaker-embedding model on egs (one YAML = one experiment).

    python -m steps.train --config conf/demo_rescnn.yaml --egs-dir data/synth/egs/spect \\
        [--exp-dir exp/demo_rescnn] [--set train.epochs=4 ...] [--test-dir data/synth/test ...]
        [--device auto|cpu|cuda] [--num-workers N] [--save-every-steps N]
    torchrun --nproc_per_node 2 -m steps.train ...        (DDP; gloo on CPU, nccl on GPUs)

The resolved config goes to <exp>/config.yaml with an ``inputs`` section (egs dir + fingerprint,
feature type, prior source + sha256) and copies of spk2label, feats.conf and, for a student, the
prior values (prior.npy): later stages read only <exp>. A rerun of the same command resumes from
<exp>/checkpoints/last.pt (optimizer, scheduler, margin, RNG state and data position included); a
config or inputs (egs, prior) that differ from the experiment's are an error naming the difference. Each --test-dir (a data dir with feats.scp,
utt2num_frames and trials) is scored every train.test_every epochs and at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from core.lock import exclusive_lock
from datasets.loader import CropBatchSampler, EgsDataset, collate
from losses.margin import MarginScheduler
from losses import build_loss
from core.errors import ConfigError
from models.registry import build_model
from recipe.config import load_config
from recipe.evaluate import trials_evaluator
from recipe.experiment import check_same_inputs, egs_inputs, prior_record, same_config, with_prior, write_inputs
from training.checkpoint import (
    CheckpointError,
    average_models,
    epoch_checkpoints,
    load_checkpoint,
    load_state_strict,
    save_checkpoint,
)
from training.budget import converged, fraction_steps, resolve_budget
from training.optim import build_optimizer, build_scheduler
from training.trainer import Net, Trainer
from core.cli import HelpFormatter
from core.progress import progress
from core.allocator import tune_allocator
from recipe.training_report import report
from core.errors import CLI_ERRORS, fail

WINDOW = 0.25  # the convergence verdict compares the validation loss over the last quarter of the budget


def prepare_exp(a) -> tuple[dict, Path, dict, dict]:
    """(config with its ``inputs``, exp dir, model section with prior values, files to record in a new
    exp dir), checked against an existing <exp>/config.yaml; nothing is written here."""
    cfg = load_config(a.config, a.set)
    exp = Path(a.exp_dir or Path("exp") / Path(a.config).stem)
    inputs, copies = egs_inputs(Path(a.egs_dir), cfg)
    inputs["prior"], prior_copy, prior = prior_record(cfg)
    full = {**cfg, "inputs": inputs}
    saved = exp / "config.yaml"
    if saved.exists():
        old = yaml.safe_load(saved.read_text()) or {}
        old_inputs = old.pop("inputs", {})
        if not same_config(old, cfg):
            diff = sorted(
                f"{s}.{k}" for s in cfg for k in set(cfg[s]) | set(old.get(s) or {}) if cfg[s].get(k) != (old.get(s) or {}).get(k)
            )
            raise ConfigError(
                f"{saved} differs from {a.config} + --set (at {diff[:5]}); to train a new "
                "experiment use another --exp-dir, or remove the old one"
            )
        check_same_inputs(old_inputs, inputs, exp)
    record = {} if saved.exists() else {**copies, **prior_copy}
    return full, exp, with_prior(cfg["model"], prior), record


def loaders(cfg: dict, egs: Path, num_classes: int, rank: int, world: int, workers: int, cuda: bool = False):
    """(sampler, train loader, valid loader or None). On CUDA crops of compressed egs travel compressed
    and pinned, and decode on the GPU (datasets.loader.PackedBatch)."""
    t = cfg["train"]
    train = EgsDataset(egs / "train", num_classes, packed=cuda)
    eg_frames = yaml.safe_load((egs / "train" / "egs.json").read_text())["num_frames"]
    if t["crop_max"] > eg_frames:
        raise ConfigError(f"train.crop_max {t['crop_max']} exceeds the egs length {eg_frames} frames")
    dim = train.feat_dim()
    if dim != cfg["data"]["feat_dim"]:
        raise ConfigError(f"{egs}/train: egs have {dim} frequency bins but data.feat_dim is {cfg['data']['feat_dim']}")
    sampler = CropBatchSampler(
        len(train), t["batch_size"], t["crop_min"], t["crop_max"], t["seed"], rank=rank, num_replicas=world
    )
    if len(sampler) == 0:
        raise ConfigError(
            f"{egs}/train: {len(train)} egs are fewer than one batch of {t['batch_size']} per process ({world} processes)"
        )
    gen = torch.Generator().manual_seed(t["seed"])  # workers' seeds: keeps the global RNG untouched
    train_loader = DataLoader(
        train,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=workers,
        generator=gen,
        persistent_workers=workers > 0,
        pin_memory=cuda,
    )
    valid_loader = valid_egs_loader(t, egs, num_classes, eg_frames, cuda) if rank == 0 else None
    return sampler, train_loader, valid_loader


def valid_egs_loader(t: dict, egs: Path, num_classes: int, eg_frames: int, cuda: bool):
    """Validation batches of train.valid_frames frames, in order; None (with a warning) without valid egs."""
    vscp = egs / "valid" / "feats.scp"
    if not vscp.exists() or vscp.stat().st_size == 0:
        print(
            f"train: warning: {egs}/valid holds no egs: no validation loss; the convergence verdict uses the training loss",
            file=sys.stderr,
        )
        return None
    valid = EgsDataset(egs / "valid", num_classes, packed=cuda)
    crop = min(t["valid_frames"], eg_frames)
    vs = CropBatchSampler(len(valid), t["batch_size"], crop, crop, t["seed"], shuffle=False, drop_last=False)
    return DataLoader(valid, batch_sampler=vs, collate_fn=collate)


def setup_distributed(device_arg: str) -> tuple[int, int, torch.device]:
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device_arg == "cuda" or (device_arg == "auto" and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return rank, world, device


def resume_or_init(trainer: Trainer, cfg: dict, ckpt_dir: Path, init_from: str, log) -> None:
    last = ckpt_dir / "last.pt"
    if last.exists():
        ck = load_checkpoint(last)
        if not same_config(ck.get("config"), cfg):
            raise CheckpointError(f"{last} was written with another config; use another --exp-dir")
        load_state_strict(trainer.inner.model, ck["model"], str(last))
        load_state_strict(trainer.inner.head, ck["head"], f"{last} (head: egs label count)")
        trainer.restore(ck)
        log(f"resumed from {last}: epoch {ck['epoch']}, batch {ck['batch_in_epoch']}, step {ck['step']}")
    elif init_from:
        ck = load_checkpoint(init_from)
        load_state_strict(trainer.inner.model, ck["model"], init_from)
        try:
            load_state_strict(trainer.inner.head, ck["head"], init_from)
        except CheckpointError:
            log(f"init_from {init_from}: head not loaded (different number of classes)")
        log(f"initialised the model from {init_from}")


def build_net(cfg: dict, model_cfg: dict, device) -> tuple[Net, torch.nn.Module]:
    """(model + head on the device, the model), checked by one smoke batch; channels_last / compile per train."""
    torch.manual_seed(cfg["train"]["seed"])
    model = build_model(model_cfg, cfg["data"]["feat_dim"])
    head = build_loss(cfg["loss"], model.emb_dim, cfg["inputs"]["num_classes"])
    net = Net(model, head).to(device)
    smoke_batch(net, cfg, device)
    if cfg["train"]["channels_last"]:
        net = net.to(memory_format=torch.channels_last)
    if cfg["train"]["compile"]:
        model.compile()  # torch.compile in place: the state_dict keeps its names (bench/train.py --compile)
    return net, model


def train_logger(exp: Path, rank: int):
    """log(msg): rank 0 prints 'train: msg' and appends it, time-stamped, to <exp>/log/train.log."""
    log_path = exp / "log" / "train.log"

    def log(msg: str) -> None:
        if rank == 0:
            print(f"train: {msg}", flush=True)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")

    return log


def build_trainer(a, cfg: dict, exp: Path, model_cfg: dict, rank: int, world: int, device) -> tuple[Trainer, int]:
    """The model, loaders, optimiser and loop, every input checked; nothing is written yet."""
    num_classes = cfg["inputs"]["num_classes"]
    net, model = build_net(cfg, model_cfg, device)
    workers = cfg["train"]["num_workers"] if a.num_workers is None else a.num_workers
    sampler, train_loader, valid_loader = loaders(
        cfg, Path(a.egs_dir), num_classes, rank, world, workers, cuda=device.type == "cuda"
    )
    budget = resolve_budget(cfg["train"], sampler.n, len(sampler), world)
    optimizer = build_optimizer(cfg["optim"], net.parameters())
    scheduler, sched_step = build_scheduler(cfg["scheduler"], optimizer, budget.steps, len(sampler))
    margin = margin_schedule(net.head, cfg["margin_warmup"], budget.steps)
    warmup = max(margin.start + margin.warmup, fraction_steps(cfg["scheduler"].get("warmup", 0.0), budget.steps))
    evaluate = trials_evaluator(a.test_dir, device, cfg["data"]["vad"])
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net)
    bar = (lambda it, left: progress(it, total=left, desc="train", unit="batch")) if rank == 0 else None
    trainer = Trainer(
        net=net,
        optimizer=optimizer,
        scheduler=scheduler,
        sched_step=sched_step,
        margin=margin,
        sampler=sampler,
        train_loader=train_loader,
        valid_loader=valid_loader,
        cfg=cfg,
        ckpt_dir=exp / "checkpoints",
        log=train_logger(exp, rank),
        device=device,
        rank=rank,
        evaluate=evaluate,
        save_every_steps=a.save_every_steps,
        progress=bar,
        total_steps=budget.steps,
        warmup_steps=warmup,
        num_classes=num_classes,
        budget=budget,
    )
    return trainer, sum(x.numel() for x in model.parameters())


def smoke_batch(net: Net, cfg: dict, device) -> None:
    """One forward and backward pass of a zero batch (2 x crop_min frames), in eval mode so that no
    BatchNorm statistic moves and without random draws: settings no range check catches (an
    embedding size of 0, a crop too short for the model) fail here, before anything is written."""
    x = torch.zeros(2, cfg["train"]["crop_min"], cfg["data"]["feat_dim"], device=device)  # (batch, time, freq)
    y = torch.zeros(2, dtype=torch.long, device=device)
    net.eval()
    try:
        loss = net(x, y)
        loss = loss[0] if isinstance(loss, tuple) else loss
        loss.backward()
    except (RuntimeError, IndexError, ValueError) as e:
        raise ConfigError(
            f"model {cfg['model']['name']} cannot train on a batch of {cfg['train']['crop_min']} x "
            f"{cfg['data']['feat_dim']} features with these settings: {e}"
        ) from None
    finally:
        net.zero_grad(set_to_none=True)
        net.train()


def margin_schedule(head, m: dict, total_steps: int) -> MarginScheduler:
    """margin_warmup in steps, or in fractions of the budget."""
    if m["fraction"] or m["start_fraction"]:
        return MarginScheduler(head, fraction_steps(m["fraction"], total_steps), fraction_steps(m["start_fraction"], total_steps))
    return MarginScheduler(head, m["steps"], m["start"])


def run(a, trainer: Trainer, cfg: dict, exp: Path, n_params: int, world: int) -> None:
    log, inputs = trainer.log, cfg["inputs"]
    log(f"command: {shlex.join([sys.executable, '-m', 'steps.train', *a.argv])}")
    resume_or_init(trainer, cfg, exp / "checkpoints", cfg["train"]["init_from"], log)
    log(
        f"egs {inputs['egs_dir']} ({inputs['feat_type']}, from data dir {inputs.get('data_dir')}), "
        f"prior {(inputs['prior'] or {}).get('source', 'none')}, test dirs {a.test_dir or 'none'}"
    )
    log(
        f"{cfg['model']['name']}: {n_params:,} params, {inputs['num_classes']} classes, "
        f"{len(trainer.sampler)} batches/epoch, world {world}, device {trainer.device}, allocator {a.allocator}"
    )
    log(f"budget: {trainer.budget.how}")
    trainer.fit()
    if trainer.rank == 0:
        valid_egs = len(trainer.valid_loader.dataset) if trainer.valid_loader is not None else 0
        verdict = converged(trainer.state.history, trainer.budget.steps, WINDOW, cfg["train"]["converge_tol"], valid_egs)
        log(verdict.text)
        report(exp, trainer.state.history, trainer.budget, verdict, WINDOW)
    n = cfg["train"]["average_last"]
    if n > 1 and trainer.rank == 0:
        paths = [p for _, p in epoch_checkpoints(exp / "checkpoints")][-n:]
        save_checkpoint(exp / "checkpoints" / f"avg_{n}.pt", {"model": average_models(paths), "config": cfg})
        log(f"averaged {len(paths)} checkpoints -> avg_{n}.pt")


def undo_new_exp(new) -> None:
    """A run that created an experiment and failed before its first checkpoint removes what it wrote
    (the whole dir if it made it), so that the corrected command runs without a manual clean-up."""
    if new is None:
        return
    exp, created, names = new
    if any((exp / "checkpoints").glob("*.pt")):
        return  # a resumable run: keep it
    if created:
        shutil.rmtree(exp, ignore_errors=True)
    else:
        for n in names:
            shutil.rmtree(exp / n, ignore_errors=True) if (exp / n).is_dir() else (exp / n).unlink(missing_ok=True)
    print(f"train: removed what this run wrote in {exp} (it failed before its first checkpoint)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    allocator = tune_allocator()  # large CPU tensors without page-fault churn, bounded (core/allocator.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--egs-dir", required=True)
    p.add_argument("--exp-dir", default=None)
    p.add_argument("--set", action="append", default=[], metavar="A.B=C")
    p.add_argument("--test-dir", action="append", default=[], help="data dir with trials, scored on test epochs")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--num-workers", type=int, default=None)
    p.add_argument("--save-every-steps", type=int, default=0)
    a = p.parse_args(argv)
    a.argv = [str(x) for x in (sys.argv[1:] if argv is None else argv)]  # what train.log records
    a.allocator = allocator
    new = None  # (exp dir, whether this run created it, files it recorded) until a checkpoint exists
    try:
        cfg, exp, model_cfg, record = prepare_exp(a)
        rank, world, device = setup_distributed(a.device)
        trainer, n_params = build_trainer(a, cfg, exp, model_cfg, rank, world, device)
        created = not exp.exists()
        with exclusive_lock(exp, "the experiment dir") if rank == 0 else nullcontext():
            if record and rank == 0:  # every check passed: the experiment dir is created now
                new = (exp, created, [*record, "config.yaml", "log"])  # set once the lock is ours
                write_inputs(exp, cfg, record)
            run(a, trainer, cfg, exp, n_params, world)
            if world > 1:  # rank 0 still averages and writes: no rank tears gloo down under a live peer
                torch.distributed.barrier()
    except CLI_ERRORS as e:
        undo_new_exp(new)
        return fail("train", e)
    except BaseException:
        undo_new_exp(new)
        raise
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Saliency maps of a trained teacher on training utterances (GFA step 1, ``gradients/cam_extract.py``).

    python gradients/cam_extract.py --exp-dir exp/demo_rescnn [--data-dir data/synth/train]
        [--method integrated_gradients] [--target cosine] [--utts-per-spk 1] [--seed 123456]
        [method options: --steps 50 --baseline zero ...; --list-methods shows each method's]
        [--chunk-frames 1200] [--internal-batch-size 16|64] [--device auto|cpu|cuda] [--gpus 0,1]
        [--job J --num-jobs N | --merge --num-jobs N]

Samples --utts-per-spk utterances per training speaker (stratified, seeded), cuts utterances longer
than --chunk-frames into equal chunks covering every frame, and writes the maps (time x freq, float)
to <exp>/gradients/<method>/maps[.JOB].{ark,scp} through temp files; a job whose outputs are complete
for the same inputs is skipped on a rerun. The teacher's config, checkpoint and label index
(<exp>/spk2label) come from <exp>; the data dir defaults to the one its egs were cut from. Method
options and their defaults come from the registry (gradients/methods.py METHODS); an option the
chosen method does not take is an error.
On GPUs, job J runs on the ((J - 1) mod n)-th id of --gpus; random draws (sampling, Expected Gradients
references and path points) are made on the CPU, so CPU and GPU runs attribute the same points.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from datasets.ark_io import AtomicArkWriter, fingerprint, job_done, mark_done
from datasets.ark_read import read_rows
from datasets.kaldi_files import DataDirError, c_key, read_dict
from core.atomic import atomic_write_text
from datasets.split import sample_per_speaker
from gradients.any_model import runtime_inputs, target_for
from gradients.methods import METHODS, long_utterance_map
from gradients.targets import TARGETS
from losses import build_loss
from training.checkpoint import load_checkpoint
from models.inference import extract_embeddings
from recipe.evaluate import dir_loader
from recipe.experiment import check_feature_conf, exp_labels, load_exp_model
from core.cli import HelpFormatter, pick_device, positive_int
from core.progress import progress
from core.allocator import tune_allocator
from core.errors import CLI_ERRORS, UsageError, fail

# default --internal-batch-size on (CPU, GPU). On the CPU the peak is about 0.45 GB + 0.18 GB per row
# of 1,200 frames for ResCNN-64 and 8 rows ran faster than 32 (docs/performance.md)
INTERNAL_BATCH = (16, 64)


def speaker_means(model, d: Path, u2s: dict, spks: set, seed: int, per_spk: int = 10) -> dict[str, torch.Tensor]:
    """Mean embedding of up to ``per_spk`` utterances (seeded) of each speaker: the verification target."""
    pool = sample_per_speaker({u: s for u, s in u2s.items() if s in spks}, per_spk, seed + 2)
    device = next(model.parameters()).device
    emb = extract_embeddings(model, dir_loader(d, model.min_frames, utts=set(pool)), device)
    out: dict[str, list] = {}
    for u in pool:
        out.setdefault(u2s[u], []).append(torch.from_numpy(emb[u]))
    return {s: torch.stack(v).mean(0, keepdim=True) for s, v in out.items()}


def option_flags() -> dict[str, tuple[type, dict[str, object]]]:
    """Every registered method option: name -> (type, {method: default})."""
    flags: dict[str, tuple[type, dict]] = {}
    for name, m in METHODS.items():
        for k, o in m.options.items():
            kind, used = flags.setdefault(k, (o.type, {}))
            if kind is not o.type:
                raise TypeError(f"saliency option {k!r} has two types ({kind.__name__}, {o.type.__name__})")
            used[name] = o.default
    return flags


def method_kwargs(a, feats: dict, pool: list[str]) -> dict:
    """The chosen method's options (given or registry defaults) and the runtime inputs it takes."""
    m = METHODS[a.method]
    given = {k: getattr(a, k) for k in option_flags() if getattr(a, k) is not None}
    foreign = sorted(set(given) - set(m.options))
    if foreign:
        raise UsageError(
            f"--{foreign[0].replace('_', '-')} does not apply to {a.method}; its options: "
            f"{', '.join('--' + k.replace('_', '-') for k in m.options) or '(none)'}"
        )
    kw = {k: given.get(k, o.default) for k, o in m.options.items()}
    load = lambda i: torch.from_numpy(read_rows(feats[pool[i]], {}))  # noqa: E731  (time, freq)
    return {**kw, **runtime_inputs(a.method, len(pool), load, a.seed, a.internal_batch_size)}


def _flag_type(kind: type):
    if kind is bool:
        return lambda v: {"true": True, "false": False}[v.lower()]
    return str if kind is list else kind


def list_methods() -> str:
    rows = []
    for name, m in METHODS.items():
        opts = ", ".join(f"--{k.replace('_', '-')} {o.default}" for k, o in m.options.items()) or "no options"
        rows.append(f"{name:<22} {m.help or ('CAM on a 2-D layer' if m.needs_model else '')} [{opts}]")
    return "\n".join(rows)


def utterance_map(model, fn_for, feats_spec: str, method: str, chunk: int, opts: dict, device) -> np.ndarray:
    x = torch.from_numpy(read_rows(feats_spec, {}))  # (time, freq)
    if len(x) < model.min_frames:
        raise DataDirError(f"utterance of {len(x)} frames is shorter than the model's receptive field ({model.min_frames})")
    return long_utterance_map(method, model, x.to(device), fn_for, chunk, opts).numpy()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", help="the teacher experiment (required unless --list-methods)")
    p.add_argument("--data-dir", required=False, help="default: the data dir the teacher's egs were cut from")
    p.add_argument("--method", default="integrated_gradients", choices=list(METHODS))
    p.add_argument("--list-methods", action="store_true", help="print every method with its options and exit")
    p.add_argument("--target", default="cosine", choices=TARGETS)
    p.add_argument("--utts-per-spk", type=positive_int, default=1)
    p.add_argument("--seed", type=int, default=123456)
    add_method_options(p)
    p.add_argument("--chunk-frames", type=positive_int, default=1200)
    add_compute_options(p)
    p.add_argument("--checkpoint", default="auto")
    p.add_argument("--job", type=int, default=0)
    p.add_argument("--num-jobs", type=positive_int, default=1)
    p.add_argument("--merge", action="store_true")
    return p


def add_method_options(p: argparse.ArgumentParser) -> None:
    """One flag per method option, with every method's default for it in the help."""
    for k, (kind, used) in option_flags().items():
        choices = next((o.choices for m in METHODS.values() for n, o in m.options.items() if n == k and o.choices), None)
        nargs = "+" if kind is list else None
        used_help = "method option of " + ", ".join(f"{m} (default {d})" for m, d in used.items())
        flag = f"--{k.replace('_', '-')}"
        p.add_argument(flag, type=_flag_type(kind), default=None, choices=choices, nargs=nargs, help=used_help)


def add_compute_options(p: argparse.ArgumentParser) -> None:
    """Where and how the teacher runs; none of these changes the maps beyond the 1e-3 level."""
    batch_help = (
        "path points per forward/backward, the memory bound (default: %s on the CPU, where larger is no "
        "faster, %s on GPUs); the maps do not depend on it" % INTERNAL_BATCH
    )
    p.add_argument("--internal-batch-size", type=positive_int, default=None, help=batch_help)
    compile_help = (
        "run the teacher through torch.compile (faster path methods after a one-off compile; "
        "attributions differ at the 1e-3 level)"
    )
    p.add_argument("--compile", action="store_true", help=compile_help)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--gpus", default="", help="comma-separated GPU ids; job J uses id (J - 1) mod n")
    tf32_help = (
        "let cuDNN/cuBLAS use TF32 on GPUs (faster; maps differ at the 1e-3 level); by default attribution runs in full float32"
    )
    p.add_argument("--tf32", action="store_true", help=tf32_help)


def teacher_inputs(a, exp: Path, cfg: dict) -> tuple[Path, dict, dict, dict]:
    """(data dir, feats, utt2spk, labels): the label index is the teacher's own copy in <exp>."""
    inputs = cfg["inputs"]
    if not a.data_dir and not inputs.get("data_dir"):
        raise DataDirError(f"{exp}/config.yaml names no source data dir of the egs; give --data-dir")
    d = Path(a.data_dir or inputs["data_dir"])
    note = check_feature_conf(exp, inputs, d)
    if note:
        print(f"cam_extract: {note}", file=sys.stderr)
    labels = exp_labels(exp, inputs)
    feats, u2s = read_dict(d / "feats.scp"), read_dict(d / "utt2spk")
    return d, feats, u2s, labels


def load_teacher(a, exp: Path):
    """(model, config, checkpoint path, head state, device) on this job's device, compiled with --compile."""
    device = pick_device(a.device, a.gpus, a.job)
    if a.internal_batch_size is None:
        a.internal_batch_size = INTERNAL_BATCH[device.type != "cpu"]
        print(f"cam_extract: --internal-batch-size {a.internal_batch_size} (the {device.type} default)", file=sys.stderr)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = a.tf32
    model, cfg, ckpt, head_state = load_exp_model(exp, a.checkpoint, device)
    if a.compile:
        if METHODS[a.method].needs_model:
            raise UsageError(f"--compile is for input-gradient methods; {a.method} hooks layers inside the model")
        model = torch.compile(model)
    return model, cfg, ckpt, head_state, device


def job_utterances(a, exp: Path, d: Path, feats: dict, u2s: dict, labels: dict) -> list[str]:
    """--utts-per-spk utterances per speaker (seeded), this job's share; every speaker must be the teacher's."""
    utts = sample_per_speaker({u: s for u, s in u2s.items() if u in feats}, a.utts_per_spk, a.seed)
    unknown = sorted({u2s[u] for u in utts} - set(labels))
    if unknown:
        raise DataDirError(f"{exp}/spk2label: speaker(s) {unknown[:3]} of {d} are not in the teacher's label index")
    return utts[a.job - 1 :: a.num_jobs] if a.job else utts


def write_maps(a, prefix: Path, model, head, device, d: Path, mine: list, tables: tuple, opts: dict) -> None:
    """One (time, freq) map per utterance into <prefix>.ark/.scp; tables = (feats, utt2spk, labels)."""
    feats, u2s, labels = tables
    means = speaker_means(model, d, u2s, {u2s[u] for u in mine}, a.seed) if a.target == "verification" else {}
    with AtomicArkWriter(prefix) as w:
        for utt in progress(mine, len(mine), a.method, "utt"):
            spk = u2s[utt]
            fn_for = target_for(a.target, model, head, label=labels[spk], reference=means.get(spk))
            w[utt] = utterance_map(model, fn_for, feats[utt], a.method, a.chunk_frames, opts, device)


def run(a) -> str:
    if not a.exp_dir:
        raise DataDirError("--exp-dir is required")
    exp, out = Path(a.exp_dir), Path(a.exp_dir) / "gradients" / a.method
    if a.merge:
        return f"{out}/maps.scp: {merge_maps(out, a.num_jobs)} maps"
    torch.manual_seed(a.seed)
    model, cfg, ckpt, head_state, device = load_teacher(a, exp)
    d, feats, u2s, labels = teacher_inputs(a, exp, cfg)
    opts = method_kwargs(a, feats, sorted(feats))
    mine = job_utterances(a, exp, d, feats, u2s, labels)
    prefix = out / (f"maps.{a.job}" if a.job else "maps")
    settings = {k: v for k, v in opts.items() if k not in ("references", "generator")}
    fp = fingerprint(
        [d / "feats.scp", d / "utt2spk", exp / "spk2label", ckpt],
        options=settings,
        **{k: v for k, v in vars(a).items() if k not in ("job", "merge", "device", "gpus")},
    )
    if job_done(prefix, fp):
        return f"{prefix}: up to date, skipped"
    head = build_loss(cfg["loss"], model.emb_dim, len(labels))
    head.load_state_dict(head_state or load_checkpoint(exp / "checkpoints" / "last.pt")["head"])
    write_maps(a, prefix, model, head.to(device).eval(), device, d, mine, (feats, u2s, labels), opts)
    mark_done(prefix, fp, utterances=len(mine))
    record = {
        "data_dir": str(d),
        "method": a.method,
        "target": a.target,
        "checkpoint": str(ckpt),
        "utts_per_spk": a.utts_per_spk,
        "seed": a.seed,
        "options": settings,
    }
    atomic_write_text(out / "extract.json", json.dumps(record, indent=1) + "\n")
    return f"{prefix}.scp: {len(mine)} maps ({a.method}, target {a.target})"


def merge_maps(out: Path, num_jobs: int) -> int:
    parts = [out / f"maps.{j}.scp" for j in range(1, num_jobs + 1)]
    if not all(p.exists() and Path(str(p)[:-4] + ".done").exists() for p in parts):
        raise DataDirError(f"{out}: not every job finished (maps.1..{num_jobs}); rerun the extraction")
    lines = sorted((ln for p in parts for ln in p.read_text().splitlines(keepends=True)), key=c_key)
    atomic_write_text(out / "maps.scp", "".join(lines))
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if not 0 <= a.job <= a.num_jobs:
        print(f"cam_extract: error: --job {a.job} is outside 1..--num-jobs {a.num_jobs} (0: all)", file=sys.stderr)
        return 1
    if a.list_methods:
        print(list_methods())
        return 0
    tune_allocator()
    try:
        print(f"cam_extract: {run(a)}")
    except CLI_ERRORS as e:
        return fail("cam_extract", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Saliency maps of a trained teacher on training utterances (GFA step 1, ``gradients/cam_extract.py``).

    python gradients/cam_extract.py --exp-dir exp/demo_rescnn --data-dir data/synth/train \\
        --label-index data/synth/egs/spect/spk2label [--method integrated_gradients] [--target cosine]
        [--utts-per-spk 1] [--seed 123456] [--steps 50] [--baseline zero|time_mean] [--n-samples 50]
        [--chunk-frames 1200] [--internal-batch-size 64] [--device auto|cpu|cuda] [--gpus 0,1]
        [--job J --num-jobs N | --merge --num-jobs N]

Samples --utts-per-spk utterances per training speaker (stratified, seeded), cuts utterances longer
than --chunk-frames into equal chunks covering every frame, and writes the maps (time x freq, float)
to <exp>/gradients/<method>/maps[.JOB].{ark,scp} through temp files; a job whose outputs are complete
for the same inputs is skipped on a rerun. The teacher's config and checkpoint come from <exp>.
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
from tqdm import tqdm

from datasets.ark_io import AtomicArkWriter, fingerprint, job_done, mark_done
from datasets.ark_read import read_rows
from datasets.kaldi_files import DataDirError, atomic_write_text, c_key, read_dict
from datasets.split import sample_per_speaker
from gradients.methods import METHODS, long_utterance_map
from gradients.targets import TARGETS, make_target
from models.checkpoint import CheckpointError, load_checkpoint
from models.registry import ConfigError, build_loss
from models.embed import extract_embeddings
from steps.evaluate import dir_loader
from steps.extract_embeddings import load_exp_model
from steps.runtime import pick_device, tune_allocator


def speaker_means(model, d: Path, u2s: dict, spks: set, seed: int, per_spk: int = 10) -> dict[str, torch.Tensor]:
    """Mean embedding of up to ``per_spk`` utterances (seeded) of each speaker: the verification target."""
    pool = sample_per_speaker({u: s for u, s in u2s.items() if s in spks}, per_spk, seed + 2)
    device = next(model.parameters()).device
    emb = extract_embeddings(model, dir_loader(d, model.min_frames, utts=set(pool)), device)
    out: dict[str, list] = {}
    for u in pool:
        out.setdefault(u2s[u], []).append(torch.from_numpy(emb[u]))
    return {s: torch.stack(v).mean(0, keepdim=True) for s, v in out.items()}


def method_options(a, feats: dict, pool: list[str]) -> dict:
    if a.method == "integrated_gradients":
        return {"steps": a.steps, "baseline": a.baseline, "internal_batch_size": a.internal_batch_size}
    if a.method in ("expected_gradients", "gradient_shap"):
        rng = np.random.default_rng(a.seed + 1)
        refs = [torch.from_numpy(read_rows(feats[u], {})) for u in rng.choice(pool, min(100, len(pool)), replace=False)]
        key = "references" if a.method == "expected_gradients" else "baselines"
        return {key: refs, "n_samples": a.n_samples, "generator": torch.Generator().manual_seed(a.seed),
                "internal_batch_size": a.internal_batch_size}
    if a.method == "smoothgrad":
        return {"generator": torch.Generator().manual_seed(a.seed), "internal_batch_size": a.internal_batch_size}
    return {}


def utterance_map(model, fn_for, feats_spec: str, method: str, chunk: int, opts: dict, device) -> np.ndarray:
    x = torch.from_numpy(read_rows(feats_spec, {}))  # (time, freq)
    if len(x) < model.min_frames:
        raise DataDirError(f"utterance of {len(x)} frames is shorter than the model's receptive field ({model.min_frames})")
    return long_utterance_map(method, model, x.to(device), fn_for, chunk, opts).numpy()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--data-dir", required=False)
    p.add_argument("--label-index", required=False, help="spk2label of the teacher's egs")
    p.add_argument("--method", default="integrated_gradients", choices=sorted(METHODS))
    p.add_argument("--target", default="cosine", choices=TARGETS)
    p.add_argument("--utts-per-spk", type=int, default=1)
    p.add_argument("--seed", type=int, default=123456)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--baseline", default="zero", choices=["zero", "time_mean"])
    p.add_argument("--n-samples", type=int, default=50)
    p.add_argument("--chunk-frames", type=int, default=1200)
    p.add_argument("--internal-batch-size", type=int, default=64)
    p.add_argument("--checkpoint", default="auto")
    p.add_argument("--compile", action="store_true", help="run the teacher through torch.compile (faster "
                   "path methods after a one-off compile; attributions differ at the 1e-3 level)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--gpus", default="", help="comma-separated GPU ids; job J uses id (J - 1) mod n")
    p.add_argument("--tf32", action="store_true", help="let cuDNN/cuBLAS use TF32 on GPUs (faster; maps differ "
                   "at the 1e-3 level); by default attribution runs in full float32")
    p.add_argument("--job", type=int, default=0)
    p.add_argument("--num-jobs", type=int, default=1)
    p.add_argument("--merge", action="store_true")
    return p


def run(a) -> str:
    exp, out = Path(a.exp_dir), Path(a.exp_dir) / "gradients" / a.method
    if a.merge:
        n = merge_maps(out, a.num_jobs)
        return f"{out}/maps.scp: {n} maps"
    if not a.data_dir or not a.label_index:
        raise DataDirError("--data-dir and --label-index are required unless --merge")
    torch.manual_seed(a.seed)
    device = pick_device(a.device, a.gpus, a.job)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = a.tf32
    model, cfg, ckpt, head_state = load_exp_model(exp, a.checkpoint, device)
    if a.compile:
        if METHODS[a.method][1]:
            raise ValueError(f"--compile is for input-gradient methods; {a.method} hooks layers inside the model")
        model = torch.compile(model)
    labels = {s: int(i) for s, i in read_dict(a.label_index).items()}
    d = Path(a.data_dir)
    feats, u2s = read_dict(d / "feats.scp"), read_dict(d / "utt2spk")
    utts = sample_per_speaker({u: s for u, s in u2s.items() if u in feats}, a.utts_per_spk, a.seed)
    unknown = sorted({u2s[u] for u in utts} - set(labels))
    if unknown:
        raise DataDirError(f"{a.label_index}: speaker(s) {unknown[:3]} of {d} are not in the teacher's label index")
    mine = utts[a.job - 1::a.num_jobs] if a.job else utts
    prefix = out / (f"maps.{a.job}" if a.job else "maps")
    fp = fingerprint([d / "feats.scp", d / "utt2spk", a.label_index, ckpt],
                     **{k: v for k, v in vars(a).items() if k not in ("job", "merge", "device", "gpus")})
    if job_done(prefix, fp):
        return f"{prefix}: up to date, skipped"
    head = build_loss(cfg["loss"], model.emb_dim, len(labels))
    head.load_state_dict(head_state or load_checkpoint(exp / "checkpoints" / "last.pt")["head"])
    head.to(device).eval()
    means = speaker_means(model, d, u2s, {u2s[u] for u in mine}, a.seed) if a.target == "verification" else {}
    opts = method_options(a, feats, sorted(feats))
    bar = tqdm(mine, desc=a.method, disable=not sys.stderr.isatty())
    with AtomicArkWriter(prefix) as w:
        for utt in bar:
            spk = u2s[utt]
            if a.target == "verification":
                fn_for = lambda n: make_target("verification", model, references=means[spk].repeat(n, 1))  # noqa: E731
            else:
                fn_for = lambda n: make_target(a.target, model, head, torch.tensor([labels[spk]] * n))  # noqa: E731
            w[utt] = utterance_map(model, fn_for, feats[utt], a.method, a.chunk_frames, opts, device)
    mark_done(prefix, fp, utterances=len(mine))
    atomic_write_text(out / "extract.json", json.dumps({"data_dir": str(d), "method": a.method, "target": a.target,
                                                        "checkpoint": str(ckpt), "utts_per_spk": a.utts_per_spk,
                                                        "seed": a.seed, "steps": a.steps, "baseline": a.baseline},
                                                       indent=1) + "\n")
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
    tune_allocator()
    try:
        print(f"cam_extract: {run(a)}")
    except (ConfigError, DataDirError, CheckpointError, ValueError, FloatingPointError, OSError) as e:
        print(f"cam_extract: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embeddings of every utterance of a data dir with a trained experiment.

    python -m steps.extract_embeddings --exp-dir exp/demo_rescnn --data-dir data/synth/test \\
        [--set-name test] [--checkpoint auto|last|avg_N|<epoch>] [--job J --num-jobs N] [--device auto]

Reads <exp>/config.yaml (and a student's <exp>/prior.npy) and a checkpoint (auto: avg_<train.average_last> if present, else last).
With data.vad: true in the experiment, only the voiced frames of <data-dir>/vad.scp are embedded
(Kaldi's select-voiced-frames), as the egs were cut.
Full-length utterances are batched by length; utterances over --max-frames are cut into equal chunks
whose embeddings are averaged. Output: <exp>/embeddings/<set>/xvector.{ark,scp} (Kaldi float
vectors). With --job/--num-jobs (e.g. under utils/run.pl JOB=1:N) each job embeds every N-th
utterance into xvector.JOB.{ark,scp}; a final call with --merge joins them into xvector.scp.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from datasets.ark_io import AtomicArkWriter
from datasets.kaldi_files import DataDirError, c_key, read_dict
from core.atomic import atomic_write_text
from models.inference import extract_embeddings
from recipe.evaluate import dir_loader
from recipe.experiment import check_feature_conf, load_exp_model
from core.cli import HelpFormatter, pick_device, positive_int
from core.progress import progress
from core.allocator import tune_allocator
from core.errors import CLI_ERRORS, fail


def merge(out: Path, num_jobs: int) -> int:
    parts = [out / f"xvector.{j}.scp" for j in range(1, num_jobs + 1)]
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        raise DataDirError(f"cannot merge: missing {missing[:3]}")
    lines = [ln for p in parts for ln in p.read_text().splitlines(keepends=True)]
    atomic_write_text(out / "xvector.scp", "".join(sorted(lines, key=c_key)))
    return len(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained experiment dir")
    p.add_argument("--data-dir", required=False, help="data dir with feats.scp and utt2num_frames")
    set_help = "embedding set name under <exp>/embeddings (default: the data dir's name; --merge needs it or --data-dir)"
    p.add_argument("--set-name", default=None, help=set_help)
    p.add_argument("--checkpoint", default="auto", help="auto | last | avg_N | <epoch>")
    p.add_argument("--max-frames", type=positive_int, default=3000, help="longer utterances are cut into equal chunks")
    p.add_argument("--job", type=int, default=0, help="this job's number, 1..--num-jobs (0: every utterance)")
    p.add_argument("--num-jobs", type=positive_int, default=1, help="jobs the utterances are split over")
    p.add_argument("--merge", action="store_true", help="join the jobs' xvector.JOB.scp into xvector.scp")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


def set_name(a, exp: Path) -> str:
    name = a.set_name or (Path(a.data_dir).name if a.data_dir else "")
    if not name:
        raise DataDirError("give --data-dir (the set is named after it) or --set-name")
    if name in (".", "..") or "/" in name or name != name.strip():
        raise DataDirError(
            f"--set-name {name!r}: want a plain name (no '/', '.', '..' or surrounding blanks): "
            f"the set is a folder under {exp}/embeddings"
        )
    return name


def embed_dir(a, exp: Path, prefix: Path) -> tuple[int, Path]:
    """Embeds this job's utterances of --data-dir into <prefix>.ark/.scp; (embeddings, checkpoint)."""
    device = pick_device(a.device)
    model, cfg, path, _ = load_exp_model(exp, a.checkpoint, device)
    note = check_feature_conf(exp, cfg["inputs"], Path(a.data_dir))
    if note:
        print(f"extract_embeddings: {note}", file=sys.stderr)
    utts = sorted(read_dict(Path(a.data_dir) / "feats.scp"), key=c_key)
    if a.job:
        utts = utts[a.job - 1 :: a.num_jobs]
    data = cfg["data"]
    loader = dir_loader(a.data_dir, getattr(model, "min_frames", 1), a.max_frames, set(utts), data["vad"], data["feat_dim"])
    bar = lambda it: progress(it, loader.num_chunks(), "embed", "chunk", size=lambda b: len(b[0]))  # noqa: E731
    emb = extract_embeddings(model, loader, device, bar)
    with AtomicArkWriter(prefix) as w:
        for u in sorted(emb, key=c_key):
            w[u] = emb[u]
    return len(emb), path


def main(argv: list[str] | None = None) -> int:
    tune_allocator()  # large CPU tensors without page-fault churn (core/allocator.py)
    a = build_parser().parse_args(argv)
    if not 0 <= a.job <= a.num_jobs:
        print(f"extract_embeddings: error: --job {a.job} is outside 1..--num-jobs {a.num_jobs} (0: all)", file=sys.stderr)
        return 1
    exp = Path(a.exp_dir)
    try:
        out = exp / "embeddings" / set_name(a, exp)
        if a.merge:
            print(f"extract_embeddings: {out}/xvector.scp: {merge(out, a.num_jobs)} embeddings")
            return 0
        if not a.data_dir:
            raise DataDirError("--data-dir is required unless --merge")
        prefix = out / (f"xvector.{a.job}" if a.job else "xvector")
        n, path = embed_dir(a, exp, prefix)
    except CLI_ERRORS as e:
        return fail("extract_embeddings", e)
    print(f"extract_embeddings: {prefix}.scp: {n} embeddings from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

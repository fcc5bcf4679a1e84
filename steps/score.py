"""Cosine scoring of a trials list with an experiment's embeddings; EER and minDCF.

    python -m steps.score --exp-dir exp/demo_rescnn --trials data/synth/test/trials \\
        [--embeddings test] [--cohort train [--cohort-utt2spk data/synth/train/utt2spk] --top-k 300] [--name test]

Writes <exp>/scores/<name>.score (enrol test score label), <exp>/scores/<name>.json (EER and both
minDCFs with their thresholds and operating points: what steps.verify decides with and steps.compare
marks), <exp>/scores/<name>.det.png, and a row
of <exp>/results.md (one per embeddings, trials list and normalisation: rescoring replaces it). minDCF is normalised as Kaldi's compute_min_dcf.py with C_miss = C_fa = 1 at
p_target 0.01 and 0.001. --cohort adds adaptive s-norm with that set's embeddings as cohort: one mean
per speaker with --cohort-utt2spk (c_train.sh --asnorm true passes the training set's), else every
embedding.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from datasets.ark_read import read_scp
from datasets.kaldi_files import DataDirError, read_dict

from core.atomic import atomic_write_text
from evaluation.metrics import as_norm, cosine_scores, operating_points
from recipe.evaluate import metrics, read_trials
from recipe.plotting import det_figure, pyplot, save
from core.cli import HelpFormatter, positive_int
from core.errors import CLI_ERRORS, UsageError, fail


def load_embeddings(d: Path) -> dict[str, np.ndarray]:
    scp = d / "xvector.scp"
    if not scp.exists():
        raise DataDirError(f"{scp}: missing; run steps.extract_embeddings first")
    out = dict(read_scp(scp))  # each entry read checked: a truncated ark names its scp line
    bad = next((k for k, v in out.items() if not np.isfinite(v).all()), None)
    if bad is not None:
        raise DataDirError(
            f"{scp}: the embedding of {bad!r} has non-finite values; its scores and the EER would "
            "be meaningless (check that utterance's features)"
        )
    return out


def cohort_matrix(emb: dict[str, np.ndarray], utt2spk: str | None) -> np.ndarray:
    """(cohort, dim): each speaker's mean embedding (of its length-normalised embeddings) when ``utt2spk``
    names the set's speakers, else every embedding; prints which and how many."""
    if utt2spk is None:
        print(f"score: AS-norm cohort: all {len(emb):,} embeddings of the set")
        return np.stack(list(emb.values()))
    u2s = read_dict(utt2spk)
    missing = [u for u in emb if u not in u2s]
    if missing:
        raise DataDirError(f"{utt2spk}: {len(missing)} embedded utterance(s) have no speaker, first {missing[0]!r}")
    spk = sorted(set(u2s[u] for u in emb))
    index = {s: i for i, s in enumerate(spk)}
    x = np.stack(list(emb.values())).astype(np.float64)  # (utts, dim)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sums = np.zeros((len(spk), x.shape[1]))
    np.add.at(sums, [index[u2s[u]] for u in emb], x)
    print(f"score: AS-norm cohort: {len(spk):,} speaker means of {len(emb):,} embeddings ({utt2spk})")
    return sums.astype(np.float32)  # a mean up to its count: the cosine does not see the scale


def append_result(exp: Path, row: dict) -> None:
    """One row per (embeddings, trials, norm) in <exp>/results.md: a rescoring replaces its old row."""
    path = exp / "results.md"
    header = "| date | embeddings | trials | norm | trials n | EER (%) | minDCF p=0.01 | minDCF p=0.001 |\n|---|---|---|---|---|---|---|---|\n"
    old = path.read_text() if path.exists() else f"# Results of {exp.name}\n\n"
    if header not in old:  # steps.train's "Training:" line may have come first
        old = old.rstrip("\n") + "\n\n" + header
    key = [row["embeddings"], row["trials"], row["norm"]]
    kept = [
        ln
        for ln in old.splitlines(keepends=True)
        if not (ln.startswith("| 2") and [c.strip() for c in ln.split("|")[2:5]] == key)
    ]
    line = (
        f"| {time.strftime('%Y-%m-%d %H:%M')} | {row['embeddings']} | {row['trials']} | {row['norm']} | "
        f"{row['n']} | {100 * row['eer']:.2f} | {row['mindcf_0.01']:.4f} | {row['mindcf_0.001']:.4f} |\n"
    )
    atomic_write_text(path, "".join(kept) + line)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--trials", required=True)
    p.add_argument("--embeddings", default=None, help="embedding set under <exp>/embeddings (default: trials dir name)")
    p.add_argument("--cohort", default=None, help="embedding set for adaptive s-norm")
    cohort_help = (
        "the cohort set's utt2spk: the cohort is one mean embedding per speaker (WeSpeaker's); without it, "
        "every embedding of the set"
    )
    p.add_argument("--cohort-utt2spk", default=None, metavar="FILE", help=cohort_help)
    p.add_argument("--top-k", type=positive_int, default=300)
    p.add_argument("--name", default=None)
    return p


def score_trials(a, exp: Path, emb_set: str, trials_path: Path) -> tuple[list, np.ndarray, np.ndarray]:
    """(trials, scores, target labels): cosine scores of the trials, AS-normed with --cohort."""
    emb = load_embeddings(exp / "embeddings" / emb_set)
    trials = read_trials(trials_path, set(emb))
    pairs = [(x, y) for x, y, _ in trials]
    labels = np.array([lab == "target" for _, _, lab in trials])
    scores = cosine_scores(emb, pairs)
    if a.cohort:
        cohort = cohort_matrix(load_embeddings(exp / "embeddings" / a.cohort), a.cohort_utt2spk)
        scores = as_norm(scores, emb, pairs, cohort, a.top_k)
    return trials, scores, labels


def write_scores(out: Path, name: str, trials: list, scores: np.ndarray, labels: np.ndarray, record: dict) -> None:
    """<name>.score (Kaldi's 'enroll test score target|nontarget') and <name>.json (record + operating points)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{x} {y} {s:.6f} {lab}\n" for (x, y, lab), s in zip(trials, scores))
    atomic_write_text(out / f"{name}.score", lines)
    record = {**record, "n": len(trials), "targets": int(labels.sum()), **operating_points(scores, labels)}
    atomic_write_text(out / f"{name}.json", json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    exp, trials_path = Path(a.exp_dir), Path(a.trials)
    emb_set = a.embeddings or trials_path.parent.name
    name = a.name or f"{emb_set}_{trials_path.name}" + ("_asnorm" if a.cohort else "")
    try:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", name):
            raise UsageError(
                f"--name {name!r}: a plain file name is needed (letters, digits, _ . + -), "
                f"no directory part: scores go to {exp}/scores/"
            )
        trials, scores, labels = score_trials(a, exp, emb_set, trials_path)
        m = metrics(scores, labels)
    except CLI_ERRORS as e:
        return fail("score", str(e).replace("is not in this data dir", f"has no embedding in {exp}/embeddings/{emb_set}"))
    record = {"trials": str(trials_path), "embeddings": emb_set, "norm": "asnorm" if a.cohort else "cosine"}
    write_scores(exp / "scores", name, trials, scores, labels, record)
    fig = det_figure([(f"{exp.name} {name}", scores, labels)], f"{exp.name}: {name}, {len(trials)} trials")
    save(fig, exp / "scores" / f"{name}.det", ("png",))
    pyplot().close(fig)
    norm = f"AS-norm top {a.top_k}" if a.cohort else "cosine"  # the results.md column
    append_result(exp, {"embeddings": emb_set, "trials": str(trials_path), "norm": norm, "n": len(trials), **m})
    print(
        f"score: {name}: {len(trials)} trials, EER {100 * m['eer']:.2f}%, minDCF(0.01) {m['mindcf_0.01']:.4f}, "
        f"minDCF(0.001) {m['mindcf_0.001']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

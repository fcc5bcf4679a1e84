"""Helpers shared by the training, embedding and scoring entry points: read trials and features of
a data dir, embed its utterances, score trials."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from datasets.datadir import check_trials
from datasets.ark_read import load_entry
from datasets.kaldi_files import DataDirError, read_dict, read_table
from datasets.loader import UtteranceLoader
from datasets.vad import voiced_masks
from evaluation.metrics import cosine_scores, verification_metrics
from models.inference import extract_embeddings


def read_trials(path: str | Path, utts: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(enrol, test, target|nontarget) rows; every utterance must be in ``utts`` when given."""
    problems = check_trials(Path(path), utts)
    if problems:
        raise DataDirError("\n".join(problems))
    return [(e.key, e.fields[0], e.fields[1]) for e in read_table(path, 2, 2, sorted_unique=False)]


def dir_loader(
    d: str | Path, min_frames: int = 1, max_frames: int = 3000, utts=None, vad: bool = False, dim: int | None = None
) -> UtteranceLoader:
    """Full-length utterances of a data dir (those in ``utts`` when given); with ``vad`` only the frames
    its vad.scp marks voiced."""
    d = Path(d)
    feats = read_dict(d / "feats.scp")
    declared = read_dict(d / "utt2num_frames")
    unknown = sorted(set(feats) - set(declared))
    if unknown:
        raise DataDirError(
            f"{d}/utt2num_frames: no length for {len(unknown)} utterance(s) of feats.scp, first "
            f"{unknown[0]!r}; rerun steps/make_*.sh or utils/fix_data_dir.sh {d}"
        )
    lengths = {u: int(n) for u, n in declared.items() if u in feats}
    listed = set(read_dict(d / "utt2spk")) if (d / "utt2spk").exists() else set(declared)
    lacking = sorted(listed - set(feats))
    if lacking:
        print(
            f"warning: {d}: {len(lacking)} utterance(s) of utt2spk have no features and are not embedded, first "
            f"{lacking[0]!r} (utils/fix_data_dir.sh {d} drops them)",
            file=sys.stderr,
        )
    if utts is not None:
        lengths = {u: n for u, n in lengths.items() if u in utts}
    masks = {}
    if vad:
        masks = read_voiced(d, lengths, min_frames)
        lengths = {u: int(masks[u].sum()) if u in masks else n for u, n in lengths.items()}
    return UtteranceLoader(feats, lengths, max_frames=max_frames, min_frames=min_frames, voiced=masks, dim=dim)


def read_voiced(
    d: Path, lengths: dict[str, int], min_frames: int = 1, why: str = "the experiment has data.vad: true"
) -> dict[str, np.ndarray]:
    """Voiced-frame masks of the utterances in ``lengths`` from <d>/vad.scp (warnings on stderr); an
    utterance without a mask keeps all its frames (see datasets.vad.voiced_masks)."""
    scp = d / "vad.scp"
    if not scp.exists():
        raise DataDirError(f"{scp}: missing, but {why}; make it with steps/compute_vad_decision.sh {d}")
    table = read_dict(scp)
    try:
        decisions = {u: load_entry(table[u], f"{scp}: {u!r}") for u in lengths if u in table}
        masks, notes = voiced_masks(decisions, lengths, min_frames)
    except ValueError as e:
        raise DataDirError(f"{scp}: {e}") from None
    for note in notes:
        print(f"warning: {scp}: {note}", file=sys.stderr)
    return masks


def metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return verification_metrics(scores, labels, (0.01, 0.001))


def trials_evaluator(test_dirs: list[str], device, vad: bool = False):
    """A callback model -> {<dir>_eer: ..., ...} over each dir's trials (None without dirs); ``vad``:
    embed only the voiced frames of each dir's vad.scp."""
    if not test_dirs:
        return None
    for d in test_dirs:
        for f in ("feats.scp", "utt2num_frames", "trials") + (("vad.scp",) if vad else ()):
            if not (Path(d) / f).exists():
                raise DataDirError(f"--test-dir {d}: no {f}")

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        out = {}
        for d in test_dirs:
            trials = read_trials(Path(d) / "trials", set(read_dict(Path(d) / "feats.scp")))
            utts = {u for a, b, _ in trials for u in (a, b)}
            emb = extract_embeddings(model, dir_loader(d, getattr(model, "min_frames", 1), utts=utts, vad=vad), device)
            scores = cosine_scores(emb, [(a, b) for a, b, _ in trials])
            labels = np.array([lab == "target" for _, _, lab in trials])
            name = Path(d).name
            out.update({f"{name}_{k}": round(v, 5) for k, v in metrics(scores, labels).items()})
        model.train()
        return out

    return evaluate

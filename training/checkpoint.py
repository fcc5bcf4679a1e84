"""Self-describing checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain Python values: model and head state, optimizer,
scheduler and margin-scheduler state, epoch / step counters, the resolved config, metric history
and the torch RNG state. Nothing is pickled beyond what ``weights_only`` accepts.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import torch

from core.atomic import atomic_path
from core.errors import GfaError

CKPT_RE = re.compile(r"^checkpoint_(\d+)\.pt$")


class CheckpointError(GfaError, ValueError):
    pass


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` whole or not at all; a failed write (a full disk: torch reports it as
    a RuntimeError about a file position) is a CheckpointError naming the path, with no temp file left."""
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: could not be written ({e}); is the disk full?") from None


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive: its directory is at the end
        raise CheckpointError(
            f"{path}: truncated or not a checkpoint ({path.stat().st_size:,} bytes, no complete "
            "archive); a copy was cut short, or the disk filled while saving"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or not a weights-only checkpoint
        raise CheckpointError(f"{path}: cannot load as a weights-only checkpoint ({type(e).__name__}: {e})") from None


def epoch_checkpoints(ckpt_dir: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of ``checkpoint_<epoch>.pt`` files, ascending."""
    d = Path(ckpt_dir)
    found = [(int(m.group(1)), p) for p in d.glob("checkpoint_*.pt") if (m := CKPT_RE.match(p.name))]
    return sorted(found)


def keep_last(ckpt_dir: str | Path, n: int) -> None:
    """Delete all but the newest ``n`` epoch checkpoints (n <= 0 keeps all)."""
    if n > 0:
        for _, p in epoch_checkpoints(ckpt_dir)[:-n]:
            p.unlink(missing_ok=True)


def average_models(paths: list[Path]) -> dict:
    """Element-wise mean of the ``model`` state of several checkpoints (integer buffers from the last)."""
    states = [load_checkpoint(p)["model"] for p in paths]
    avg = {}
    for k, v in states[-1].items():
        avg[k] = (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
    return avg


def load_state_strict(module: torch.nn.Module, state: dict, what: str) -> None:
    """load_state_dict(strict=True) with an error naming the mismatch (never a silent partial load)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        detail = "; ".join(
            x
            for x in (
                f"missing {missing[:4]}" if missing else "",
                f"unexpected {unexpected[:4]}" if unexpected else "",
                f"shape differs for {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in shapes[:3]]}" if shapes else "",
            )
            if x
        )
        raise CheckpointError(f"{what} does not fit this model ({detail}); it comes from another config")
    module.load_state_dict(state)

"""Embedding extraction over full-length utterances (chunks of very long ones are averaged)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def extract_embeddings(model: nn.Module, batches, device: torch.device | str = "cpu", progress=None) -> dict[str, np.ndarray]:
    """``batches`` yields (items [(utt, start, end)], feats (batch, time, freq)); returns utt -> mean
    embedding over its chunks. Uses ``model.embed`` when the model has one (TDNN's chosen layer)."""
    model.eval()
    embed = getattr(model, "embed", model)
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for items, x in progress(batches) if progress else batches:
        out = embed(x.to(device)).float().cpu().numpy()  # (batch, emb)
        for (utt, _, _), e in zip(items, out):
            sums[utt] = sums.get(utt, 0.0) + e
            counts[utt] = counts.get(utt, 0) + 1
    return {u: (sums[u] / counts[u]).astype(np.float32) for u in sums}

"""Perturbation saliency: what the target loses when part of the input is replaced.

method(fn, x, ...) -> maps (batch, time, freq), as the input-gradient methods in input_gradients.py.
"""

from __future__ import annotations

import torch

from gradients.input_gradients import make_baseline
from core.errors import UsageError


@torch.no_grad()
def occlusion(
    fn, x: torch.Tensor, window: int = 8, stride: int = 4, fill: str = "time_mean", internal_batch_size: int | None = None
) -> torch.Tensor:
    """Frequency-band occlusion: bins [s, s + window) of the whole utterance are replaced by ``fill``
    (``time_mean``: each bin's own mean over time, the neutral input after mean normalisation; or
    ``zero``), for starts s every ``stride`` bins (the last band ends at the top bin). Each point of a
    band gets the target's drop S(x) - S(occluded) / (window * time), averaged over the bands that cover
    it: a map constant over time that sums to about the mean drop."""
    b, t, n_freq = x.shape
    if not 1 <= window <= n_freq or stride < 1:
        raise UsageError(f"occlusion: need 1 <= window <= {n_freq} bins and stride >= 1, got {window}, {stride}")
    starts = sorted({*range(0, n_freq - window + 1, stride), n_freq - window})
    filler = make_baseline(fill, x)
    full = fn(x, torch.arange(b, device=x.device))  # (batch,)
    rows = [(u, s) for u in range(b) for s in starts]
    acc, cover = torch.zeros_like(x[:, 0]), torch.zeros(n_freq, device=x.device)  # (batch, freq), (freq,)
    for s in starts:
        cover[s : s + window] += 1
    chunk = internal_batch_size or len(rows)
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        utt = torch.tensor([u for u, _ in part], device=x.device)
        pts = x[utt].clone()  # (rows, time, freq)
        for r, (u, s) in enumerate(part):
            pts[r, :, s : s + window] = filler[u, :, s : s + window]
        drop = full[utt] - fn(pts, utt)  # (rows,)
        for r, (u, s) in enumerate(part):
            acc[u, s : s + window] += drop[r] / (window * t)
    return (acc / cover).unsqueeze(1).expand(b, t, n_freq).contiguous()  # (batch, time, freq)

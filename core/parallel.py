"""``pool_map``: map over items in ``nj`` spawned processes, or inline when nj == 1."""

from __future__ import annotations

from multiprocessing import get_context


def pool_map(fn, items, nj: int, unordered: bool = False, progress=None):
    """List of fn(item) (in order unless ``unordered``); ``progress`` wraps the result iterator."""
    wrap = progress or (lambda it, total: it)
    if nj <= 1:
        return list(wrap(map(fn, items), total=len(items)))
    with get_context("spawn").Pool(nj) as pool:
        it = pool.imap_unordered(fn, items, chunksize=4) if unordered else pool.imap(fn, items)
        return list(wrap(it, total=len(items)))

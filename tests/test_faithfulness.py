"""Insertion / deletion curves (gradients/faithfulness.py) and the mask / I-GOS methods on a planted band."""

import numpy as np
import pytest
import torch

from conftest import BAND
from gradients import faithfulness
from gradients.methods import saliency_maps
from gradients.reduce import frequency_weights, utterance_profile
from gradients.targets import make_target

HZ = np.arange(161) * 50
INSIDE = (HZ >= BAND[0]) & (HZ <= BAND[1])


def test_auc_of_known_curves():
    g = np.linspace(0, 1, 21)
    assert faithfulness.auc(g, np.full(21, 0.3)) == pytest.approx(0.3)
    assert faithfulness.auc(g, g) == pytest.approx(0.5)
    assert faithfulness.auc(g, 1 - g) == pytest.approx(0.5)
    d = np.asarray(faithfulness.DELETION_GRID)
    y = np.exp(-10 * d)
    assert faithfulness.auc(d, y) == pytest.approx(np.trapezoid(y, d))
    y = np.random.default_rng(0).random(21)  # RISE's formula on a uniform grid
    assert faithfulness.auc(g, y) == pytest.approx((y.sum() - y[0] / 2 - y[-1] / 2) / 20)
    assert faithfulness.auc([0, 0.5], [1, 1]) == pytest.approx(0.5)  # the area over the grid given


@pytest.mark.parametrize(
    "grid, match",
    [
        ([0.0, 0.5, 0.4], "increase"),
        ([0, 1.2], r"\[0, 1\]"),
        ([-0.1, 1], r"\[0, 1\]"),
        ([0.5], "at least two"),
        ([0, 0.5, 0.5], "increase"),
    ],
)
def test_bad_grids_are_refused(grid, match):
    with pytest.raises(ValueError, match=match):
        faithfulness.check_grid(grid, "--insert-grid")


def test_unit_counts_round_down_exactly():
    assert list(faithfulness.unit_counts(np.array([0, 0.29, 0.5, 1.0]), 100)) == [0, 29, 50, 100]
    assert list(faithfulness.unit_counts(np.array([0.05, 0.15]), 161)) == [8, 24]


def test_ranks_order_values_and_break_ties_at_random():
    r = faithfulness.ranks(np.array([0.1, 5.0, -2.0, 3.0]), np.random.default_rng(0))
    assert list(r) == [2, 0, 3, 1]
    flat = [tuple(faithfulness.ranks(np.zeros(50), np.random.default_rng(s))) for s in range(3)]
    assert all(sorted(f) == list(range(50)) for f in flat) and len(set(flat)) == 3  # not storage order
    assert tuple(faithfulness.ranks(np.zeros(50), np.random.default_rng(1))) == flat[1]  # seeded


def test_each_fill_and_level_builds_what_it_says():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((30, 20)).astype(np.float32)) + 3
    mean_spec = torch.linspace(-1, 1, 20)
    fills = {f: faithfulness.fill_for(f, x, mean_spec) for f in faithfulness.FILLS}
    assert torch.allclose(fills["time_mean"], x.mean(0).expand(30, 20))
    assert torch.equal(fills["zero"], torch.zeros(30, 20)) and torch.equal(fills["dataset_mean"][7], mean_spec)
    points = torch.from_numpy(faithfulness.ranks(rng.random((30, 20)), rng))
    rows = torch.from_numpy(faithfulness.ranks(rng.random(20), rng))
    ks = torch.tensor([0, 60, 600])
    for fill in fills.values():
        ins = faithfulness.perturbed(x, points, ks, "insertion", fill)  # (3, time, freq)
        dele = faithfulness.perturbed(x, points, ks, "deletion", fill)
        assert torch.equal(ins[0], fill) and torch.equal(ins[2], x) and torch.equal(dele[0], x) and torch.equal(dele[2], fill)
        top = points < 60
        assert torch.equal(ins[1][top], x[top]) and torch.equal(ins[1][~top], fill[~top])
        assert torch.equal(dele[1][top], fill[top]) and torch.equal(dele[1][~top], x[~top])
        r = faithfulness.perturbed(x, rows, torch.tensor([5]), "deletion", fill)[0]
        gone = rows < 5  # whole frequency rows, at every frame
        assert torch.equal(r[:, gone], fill[:, gone]) and torch.equal(r[:, ~gone], x[:, ~gone]) and gone.sum() == 5
    with pytest.raises(ValueError, match="dataset_mean"):
        faithfulness.fill_for("dataset_mean", x)


def test_unmodified_ends_reproduce_the_plain_accuracy(planted):
    model, head = planted["model"], planted["head"]
    classify = lambda b: head(model(b))  # noqa: E731
    grids = {"insertion": np.asarray(faithfulness.INSERTION_GRID), "deletion": np.asarray(faithfulness.DELETION_GRID)}
    rng = np.random.default_rng(0)
    plain = []
    for x, y in zip(planted["x"], planted["y"].tolist()):
        with torch.no_grad():
            t1, t5 = faithfulness.hits(classify(x[None]), y)
        rank = {
            ("random", "points"): torch.from_numpy(faithfulness.ranks(rng.random(x.shape), rng)),
            ("random", "rows"): torch.from_numpy(faithfulness.ranks(rng.random(161), rng)),
        }
        fills = {f: faithfulness.fill_for(f, x, planted["x"].mean((0, 1))) for f in faithfulness.FILLS}
        curves = faithfulness.utterance_curves(classify, x, y, rank, grids, fills, batch_size=17)
        for (key, fill, mode), (c1, c5) in curves.items():
            end = -1 if mode == "insertion" else 0
            assert (c1[end], c5[end]) == (t1[0], t5[0]), (key, fill, mode)
        plain.append(t1[0])
    assert np.mean(plain) > 0.8


def _curve_aucs(planted, rank_of):
    """Mean insertion / deletion AUC over the planted utterances, rows ranked by rank_of(rng)."""
    model, head = planted["model"], planted["head"]
    grids = {"insertion": np.asarray(faithfulness.INSERTION_GRID), "deletion": np.asarray(faithfulness.DELETION_GRID)}
    mean_spec = planted["x"].mean((0, 1))
    acc = {m: [] for m in grids}
    for i, (x, y) in enumerate(zip(planted["x"], planted["y"].tolist())):
        rank = {"r": torch.from_numpy(rank_of(np.random.default_rng(i)))}
        c = faithfulness.utterance_curves(
            lambda b: head(model(b)), x, y, rank, grids, {"dataset_mean": faithfulness.fill_for("dataset_mean", x, mean_spec)}
        )
        for m in grids:
            acc[m].append(c[("r", "dataset_mean", m)][0])
    return {m: faithfulness.auc(grids[m], np.mean(acc[m], axis=0)) for m in grids}


def test_the_oracle_map_beats_a_random_map_by_a_wide_margin(planted):
    oracle = _curve_aucs(planted, lambda rng: faithfulness.ranks(INSIDE.astype(float), rng))
    random = _curve_aucs(planted, lambda rng: faithfulness.ranks(rng.random(161), rng))
    print(f"rows, dataset-mean fill: oracle {oracle}, random {random}")
    # measured: insertion 0.348 vs 0.131, deletion 0.125 vs 0.220 (12 speakers: chance 0.083)
    assert oracle["insertion"] >= 2 * random["insertion"] and oracle["insertion"] >= random["insertion"] + 0.15
    assert oracle["deletion"] <= 0.7 * random["deletion"]


@pytest.mark.parametrize("method, opts", [("mask", {"iterations": 80}), ("igos", {"iterations": 8, "steps": 10})])
def test_mask_and_igos_recover_the_planted_band(planted, method, opts):
    model, head = planted["model"], planted["head"]
    maps = saliency_maps(method, model, planted["x"], make_target("cosine", model, head, planted["y"]), opts)
    assert maps.shape == planted["x"].shape and maps.min() >= 0 and maps.max() <= 1  # deletion 1 - m
    v = frequency_weights([utterance_profile(m.numpy()) for m in maps])
    outside = ~INSIDE
    outside[0] = False  # log energy
    ratio = v[INSIDE].mean() / v[outside].mean()
    print(f"{method}: peak {HZ[np.argmax(v)]} Hz, in/out {ratio:.2f}")
    assert INSIDE[np.argmax(v)] and ratio >= 1.5


def test_bootstrap_interval_of_known_data():
    g = np.linspace(0, 1, 11)
    assert faithfulness.bootstrap_auc(np.ones((20, 11)), g) == (1.0, 1.0)  # no spread, no interval
    rng = np.random.default_rng(0)
    small, large = (rng.random((n, 11)) < 0.3 for n in (20, 2000))  # every point correct with p = 0.3
    lo, hi = faithfulness.bootstrap_auc(small, g)
    lo2, hi2 = faithfulness.bootstrap_auc(large, g)
    big = faithfulness.auc(g, large.mean(0))
    assert lo < faithfulness.auc(g, small.mean(0)) < hi and lo2 < big < hi2 and abs(big - 0.3) < 0.02
    assert (hi2 - lo2) < (hi - lo) / 5  # shrinks about as 1 / sqrt(n): sqrt(100) = 10


def test_smoothing_is_a_box_average_and_off_by_default():
    m = np.zeros((9, 7), np.float32)
    m[4, 3] = 9.0
    assert faithfulness.smooth(m, 0) is m and faithfulness.smooth(m, 1) is m
    s = faithfulness.smooth(m, 3)
    assert s.shape == m.shape and np.allclose(s[3:6, 2:5], 1.0) and s.sum() == pytest.approx(9.0)  # 9 neighbours get 9 / 9 each
    assert np.allclose(faithfulness.smooth(np.full((5, 4), 2.0), 3), 2.0)  # edges average the points present


def test_paired_auc_difference_known_answers():
    from gradients.faithfulness import auc, paired_auc_difference

    grid = np.array([0.0, 0.5, 1.0])
    rng = np.random.default_rng(0)
    a = (rng.random((40, 3)) < 0.6).astype(float)
    assert paired_auc_difference(a, a, grid) == (0.0, 0.0, 0.0)  # a method against itself: exactly no difference
    d, lo, hi = paired_auc_difference(np.ones((30, 3)), np.zeros((30, 3)), grid)
    assert (d, lo, hi) == (1.0, 1.0, 1.0)
    b = (rng.random((40, 3)) < 0.3).astype(float)
    d, lo, hi = paired_auc_difference(a, b, grid)
    assert d == pytest.approx(auc(grid, a.mean(0)) - auc(grid, b.mean(0))) and lo < d < hi and lo > 0
    with pytest.raises(ValueError, match="same utterances"):
        paired_auc_difference(a, b[:10], grid)

"""EER / minDCF against independent oracles (scikit-learn ROC; hand-worked minDCF cases)."""

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from evaluation.metrics import as_norm, compute_eer, compute_min_dcf, cosine_scores


def sklearn_eer(scores, labels):
    """EER from scikit-learn's ROC, interpolating the FNR = FPR crossing."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    j = i + 1 if fnr[i] > fpr[i] else i - 1  # neighbour on the other side of the crossing
    j = min(max(j, 0), len(fpr) - 1)
    if j == i or (fnr[i] - fpr[i]) * (fnr[j] - fpr[j]) > 0:
        return (fnr[i] + fpr[i]) / 2
    d_i, d_j = fnr[i] - fpr[i], fnr[j] - fpr[j]
    w = d_i / (d_i - d_j)
    return fpr[i] + w * (fpr[j] - fpr[i])


@pytest.mark.parametrize("seed, n, sep", [(0, 200, 1.0), (1, 5000, 2.0), (2, 3000, 0.3), (3, 1000, 4.0)])
def test_eer_matches_sklearn_roc(seed, n, sep):
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    scores = rng.standard_normal(n) + sep * labels
    ours, _ = compute_eer(scores, labels)
    assert abs(ours - sklearn_eer(scores, labels)) <= 1.0 / labels.sum() + 1e-9


def test_eer_simple_cases():
    assert compute_eer([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])[0] == 0.0  # perfectly separated
    assert compute_eer([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])[0] == 1.0  # perfectly inverted
    eer, _ = compute_eer([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])  # one crossing pair
    assert eer == pytest.approx(0.5)
    with pytest.raises(ValueError, match="need target and nontarget"):
        compute_eer([0.1, 0.2], [1, 1])


def test_min_dcf_hand_checked():
    # 2 targets (0.9, 0.4), 3 nontargets (0.8, 0.3, 0.1). Thresholds (reject <= s):
    #  s=0.1: Pmiss 0,   Pfa 2/3  | s=0.3: 0, 1/3 | s=0.4: 1/2, 1/3 | s=0.8: 1/2, 0 | s=0.9: 1, 0
    scores, labels = [0.9, 0.4, 0.8, 0.3, 0.1], [1, 1, 0, 0, 0]
    # p = 0.5: C = 0.5 Pmiss + 0.5 Pfa, normalised by 0.5 -> min(2/3, 1/3, 5/6, 1/2, 1) = 1/3
    assert compute_min_dcf(scores, labels, 0.5)[0] == pytest.approx(1 / 3)
    # p = 0.01: C = 0.01 Pmiss + 0.99 Pfa, /0.01 -> candidates 66, 33, 33.5, 0.5, 1 -> 0.5 at s = 0.8
    dcf, thr = compute_min_dcf(scores, labels, 0.01)
    assert dcf == pytest.approx(0.5) and thr == 0.8
    # p = 0.001: only the all-rejecting point keeps Pfa = 0 without misses cost -> 0.5 at 0.8 too
    assert compute_min_dcf(scores, labels, 0.001)[0] == pytest.approx(0.5)
    # never above 1 (rejecting everything costs exactly C_def)
    rng = np.random.default_rng(0)
    assert compute_min_dcf(rng.random(100), rng.random(100) < 0.5, 0.001)[0] <= 1.0


def test_cosine_and_asnorm():
    emb = {"a": np.array([1.0, 0.0]), "b": np.array([2.0, 0.0]), "c": np.array([0.0, 3.0])}
    s = cosine_scores(emb, [("a", "b"), ("a", "c")])
    assert np.allclose(s, [1.0, 0.0])
    with pytest.raises(KeyError, match="no embedding, first 'z'"):
        cosine_scores(emb, [("a", "z")])
    cohort = np.random.default_rng(0).standard_normal((50, 2))
    n = as_norm(s, emb, [("a", "b"), ("a", "c")], cohort, top_k=10)
    assert n.shape == (2,) and n[0] > n[1]


def test_cohort_stats_in_blocks_equal_a_full_sort():
    from evaluation.metrics import cohort_stats

    rng = np.random.default_rng(3)
    m, c = rng.normal(size=(1000, 32)), rng.normal(size=(700, 32))
    full = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
    top = -np.sort(-full, axis=1)[:, :50]  # the unblocked float64 definition
    for block in (1, 64, 4096):
        mu, sd = cohort_stats(m, c, 50, block)
        np.testing.assert_allclose(mu, top.mean(axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sd, top.std(axis=1), rtol=1e-4, atol=1e-6)
    mu, _ = cohort_stats(m, c[:20], 50)  # a cohort smaller than top_k: all of it
    np.testing.assert_allclose(mu, full[:, :20].mean(axis=1), rtol=1e-5, atol=1e-6)


def test_asnorm_cohort_is_one_mean_per_speaker(tmp_path, capsys):
    from datasets.kaldi_files import DataDirError
    from steps.score import cohort_matrix

    rng = np.random.default_rng(0)
    emb = {f"s{s}-u{u}": rng.standard_normal(8) * (u + 1) for s in range(3) for u in range(4)}
    (tmp_path / "utt2spk").write_text("".join(f"{k} {k.split('-')[0]}\n" for k in sorted(emb)))
    c = cohort_matrix(emb, str(tmp_path / "utt2spk"))
    assert c.shape == (3, 8) and "3 speaker means of 12 embeddings" in capsys.readouterr().out
    unit = {k: v / np.linalg.norm(v) for k, v in emb.items()}
    want = np.mean([unit[f"s1-u{u}"] for u in range(4)], axis=0)  # length-normalised, then averaged
    assert abs(np.dot(c[1], want) / np.linalg.norm(c[1]) / np.linalg.norm(want) - 1) < 1e-6
    assert cohort_matrix(emb, None).shape == (12, 8) and "all 12 embeddings" in capsys.readouterr().out
    (tmp_path / "utt2spk").write_text("s0-u0 s0\n")
    with pytest.raises(DataDirError, match="11 embedded utterance"):
        cohort_matrix(emb, str(tmp_path / "utt2spk"))

"""The statistics of the GFA experiment (issue 26) on constructed data with known answers: the two-level
bootstrap, Holm, the minimum detectable difference, the minDCF(0.001) support rule, the per-seed
permutation control and the pre-declared comparisons."""

import json

import numpy as np
import pytest

from evaluation.comparisons import compare, parse_pairs, seeds_to_run
from evaluation.stats import bootstrap_p, dcf_supported, holm, holm_levels, min_detectable, seeds_needed, two_level_differences


def test_two_level_bootstrap_known_answers():
    rng = np.random.default_rng(0)
    zeros = np.zeros((5, 400))
    same = two_level_differences(zeros + 0.01, zeros)  # every seed and speaker draw differs by exactly 0.01
    assert np.allclose(same, 0.01)
    u = rng.normal(0, 0.02, 400)  # a speaker-draw effect shared by every seed
    only_spk = two_level_differences(zeros + u, zeros)
    assert np.allclose(np.sort(only_spk), np.sort(u))  # seeds add nothing: the speaker distribution itself
    # both levels: d[i, j] = s_i + u_j; Var(replicate) = Var_pop(s) / n + Var(u)
    s = rng.normal(0, 0.03, 8)
    d = two_level_differences(s[:, None] + u[None, :] + 1.0, np.ones((8, 400)), n_boot=20000, seed=1)
    want = s.var() / 8 + u.var()
    assert d.var() == pytest.approx(want, rel=0.1)
    assert d.mean() == pytest.approx(s.mean() + u.mean(), abs=0.003)
    with pytest.raises(ValueError, match="one shape"):
        two_level_differences(np.zeros((3, 4)), np.zeros((2, 4)))


def test_bootstrap_p():
    assert bootstrap_p(np.full(999, -0.01)) == pytest.approx(2 / 1000)  # never 0
    assert bootstrap_p(np.r_[-np.ones(50), np.ones(50)]) == 1.0
    assert bootstrap_p(np.r_[-np.ones(90), np.ones(10)]) == pytest.approx(2 * 11 / 101)


def test_holm_known_case():
    p = [0.01, 0.04, 0.03, 0.005]  # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_levels(p) == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 1, 1 - 0.05 / 2, 1 - 0.05 / 4])


def test_min_detectable_formula():
    # (t(0.975, 9) + t(0.8, 9)) * sd / sqrt(10), t values from tables: 2.262157, 0.883404
    assert min_detectable(1.0, 10) == pytest.approx((2.262157 + 0.883404) / np.sqrt(10), rel=1e-5)
    assert min_detectable(0.5, 10) == pytest.approx(min_detectable(1.0, 10) / 2)
    assert min_detectable(1.0, 1) == float("inf") and min_detectable(float("nan"), 5) == float("inf")
    n = seeds_needed(0.9, 0.4)
    assert min_detectable(0.9, n) <= 0.4 < min_detectable(0.9, n - 1)
    assert 40 <= n <= 45  # the estimate: about 40 seeds at a paired sd of 0.9 points
    assert seeds_needed(1.0, 1e-6, most=50) == 51


def test_mdcf_support_rule():
    assert not dcf_supported(7_680, 0.001) and dcf_supported(10_000, 0.001) and dcf_supported(7_680, 0.01)


def runs_with(effects: dict[str, float], seeds: int, rng) -> tuple[list[dict], np.ndarray]:
    """Constructed runs: EER = 0.05 + effect + seed noise; boot (runs, resamples, 2) adds a speaker draw
    shared by every run."""
    u = rng.normal(0, 0.002, 300)
    runs, boot = [], []
    for s in range(1, seeds + 1):
        noise = rng.normal(0, 0.002)
        for p, e in effects.items():
            eer = 0.05 + e + noise + rng.normal(0, 0.001)
            runs.append({"prior": p, "seed": s, "m": {"eer": eer, "mindcf_0.01": 0.5}})
            boot.append(np.stack([eer + u, np.full(300, 0.5)], axis=1))
    return runs, np.array(boot)


def test_compare_primaries_holm_and_exploratory():
    runs, boot = runs_with({"none": 0.0, "gradient": -0.01, "ig": 0.0, "shuffled": 0.0, "mel": 0.0}, 10, np.random.default_rng(3))
    rows = compare(
        runs, boot, ("eer", "mindcf_0.01"), parse_pairs("gradient:none ig:none gradient:shuffled"), [("mel", "none")], seed=0
    )
    eer = {f"{r['a']}:{r['b']}": r for r in rows if r["metric"] == "eer"}
    assert [r["kind"] for r in eer.values()] == ["primary"] * 3 + ["exploratory"]
    g = eer["gradient:none"]
    assert g["hi"] < 0 and g["p_holm"] < 0.05 and g["diff"] == pytest.approx(-0.01, abs=0.002)
    assert eer["ig:none"]["lo"] < 0 < eer["ig:none"]["hi"] and eer["ig:none"]["p_holm"] >= eer["ig:none"]["p"]
    assert np.isnan(eer["mel:none"]["p_holm"]) and eer["mel:none"]["level"] == 0.95
    levels = sorted(r["level"] for r in eer.values() if r["kind"] == "primary")
    assert levels[-1] == pytest.approx(1 - 0.05 / 3) and levels[0] == pytest.approx(0.95)
    need = seeds_to_run(rows, 0.004, 0.05, 0.8, 500)
    assert set(need) == {"gradient vs none", "ig vs none", "gradient vs shuffled"} and all(n >= 2 for n in need.values())
    with pytest.raises(ValueError, match="PRIOR:BASELINE"):
        parse_pairs("gradient-none")


def teacher_with_gradient(tmp_path, v):
    d = tmp_path / "teacher" / "gradients" / "gradient"
    d.mkdir(parents=True)
    np.save(d / "freq_weights.npy", v)
    return tmp_path / "teacher"


def test_shuffled_control_is_new_per_seed_with_bin0_fixed(tmp_path):
    from steps.prior_runs import prior_vector

    v = np.random.default_rng(0).random(161) + 0.1
    teacher = teacher_with_gradient(tmp_path, v)
    perms = [prior_vector("shuffled", teacher, 161, None, None, (0, s)) for s in range(1, 11)]
    for sh in perms:
        assert sh[0] == v[0] and np.array_equal(np.sort(sh[1:]), np.sort(v[1:]))  # log energy kept, values kept
    assert len({sh.tobytes() for sh in perms}) == 10  # ten seeds, ten permutations
    assert np.array_equal(prior_vector("shuffled", teacher, 161, None, None, (0, 3)), perms[2])  # reproducible


def test_removed_uniform_prior_says_why(tmp_path):
    from core.errors import ConfigError
    from steps.prior_runs import check_priors

    with pytest.raises(ConfigError, match="BatchNorm"):
        check_priors(["none", "uniform"])


def test_primaries_are_declared_before_the_runs(tmp_path, capsys):
    from types import SimpleNamespace
    from core.errors import ConfigError
    from steps.prior_runs import declare

    a = SimpleNamespace(primaries="gradient:none ig:none gradient:shuffled", detect=0.4, power=0.8)
    plan = declare(a, ["none", "gradient", "shuffled", "mel"], tmp_path)
    assert plan["primaries"] == [["gradient", "none"], ["gradient", "shuffled"]]  # ig is not trained here
    assert "ig vs none left out" in capsys.readouterr().err
    assert plan["exploratory"] == [["mel", "none"]]  # shuffled is a control of a primary, not a finding
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    a.primaries = "mel:none"
    assert declare(a, ["none", "gradient", "shuffled", "mel"], tmp_path)["primaries"] == [["mel", "none"]]  # no run yet
    (tmp_path / "runs" / "none_s1").mkdir(parents=True)
    with pytest.raises(ConfigError, match="declared before the runs started"):
        declare(a, ["none", "gradient", "shuffled", "mel"], tmp_path)
    a.primaries, a.detect = "gradient:none", 0.0
    with pytest.raises(ConfigError, match="--detect"):
        declare(a, ["none", "gradient"], tmp_path)


def test_bootstrap_metrics_equal_one_weighted_sort_per_resample():
    """The vectorised resamples (one sort per system) give exactly what verification_metrics gives with
    each resample's weights, ties and a resample without target weight (NaN) included."""
    from evaluation.metrics import verification_metrics
    from evaluation.stats import bootstrap_metrics, speaker_weights

    rng = np.random.default_rng(1)
    enrol = rng.integers(0, 30, 5000)
    test = np.where(rng.random(5000) < 0.1, enrol, rng.integers(0, 30, 5000))
    labels = enrol == test
    good = rng.standard_normal(5000) + 2 * labels
    systems = [good, np.round(good, 1), rng.standard_normal(5000)]  # a system with ties, and chance
    w = speaker_weights(enrol, test, 20, seed=2)
    w[3] = np.where(labels, 0.0, 1.0)  # no target weight
    got = bootstrap_metrics(systems, labels, w)
    keys = ("eer", "mindcf_0.01", "mindcf_0.001")
    for i, s in enumerate(systems):
        assert np.isnan(got[i, 3]).all()
        for j in [0, 1, 2, *range(4, 20)]:
            m = verification_metrics(s, labels, weights=w[j])
            assert got[i, j].tolist() == [m[k] for k in keys]


def test_each_prior_gets_the_seeds_its_primaries_need(capsys):
    """The power analysis gives each prior the most its EER primaries need, never fewer than it has run,
    and an exploratory prior follows its baseline; --seeds-per-prior turns that into seed lists."""
    from types import SimpleNamespace
    from core.errors import ConfigError
    from steps.prior_runs import seed_lists
    from steps.prior_table import prior_seeds

    plan = {"primaries": [["gradient", "none"], ["ig", "none"], ["gradient", "shuffled"]], "exploratory": [["mel", "none"]]}
    runs = [{"prior": p, "seed": s} for s in range(1, 9) for p in ("none", "gradient", "ig", "shuffled", "mel")]
    need = {"gradient vs none": 6, "ig vs none": 7, "gradient vs shuffled": 16}
    assert prior_seeds(plan, need, runs) == {"none": 8, "gradient": 16, "ig": 8, "shuffled": 16, "mel": 8}
    need["ig vs none"] = 12  # the baseline of a short comparison takes its exploratory priors along
    assert prior_seeds(plan, need, runs) == {"none": 12, "gradient": 16, "ig": 12, "shuffled": 16, "mel": 12}
    priors = ["none", "gradient", "shuffled"]
    a = SimpleNamespace(seeds="1 2 3", seeds_per_prior="gradient:20 shuffled:5", max_seeds=16)
    got = seed_lists(a, priors)
    assert got == {"none": [1, 2, 3], "gradient": list(range(1, 17)), "shuffled": [1, 2, 3, 4, 5]}
    assert "gradient: 20 seeds asked, 16 run (--max-seeds)" in capsys.readouterr().err
    assert seed_lists(SimpleNamespace(seeds="4 5", seeds_per_prior="", max_seeds=None), priors)["none"] == [4, 5]
    for bad in ("ig:3", "gradient:0", "gradient:x", "gradient"):
        with pytest.raises(ConfigError, match="--seeds-per-prior"):
            seed_lists(SimpleNamespace(seeds="1", seeds_per_prior=bad, max_seeds=None), priors)

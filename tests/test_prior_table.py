"""The prior experiment: interval code on constructed data, the prior variants, bad arguments. The driver
(local/prior_table.sh) runs end to end, three priors x two seeds, in tests/test_recipe.py (run.sh stage 5)."""

import numpy as np
import pytest

from conftest import run, tiny_configs
from evaluation.metrics import verification_metrics
from evaluation.stats import bootstrap_metrics, quantile_interval, speaker_weights, t_interval
from models.priors import band_indicator, shuffled, smooth_alternation


def test_t_interval_known_answer():
    m, lo, hi = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, 2) * sd 1 / sqrt(3)
    assert m == 2.0 and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    assert np.isnan(t_interval([0.5])[1])


def test_weighted_metrics_equal_repeated_trials():
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=60), rng.random(60) < 0.3
    w = rng.integers(0, 4, size=60)
    rep = verification_metrics(np.repeat(scores, w), np.repeat(labels, w))
    assert verification_metrics(scores, labels, weights=w) == pytest.approx(rep)


def test_speaker_weights_count_trials_of_drawn_speakers():
    enrol = np.array(["a", "a", "b", "a"])
    test = np.array(["a", "b", "b", "c"])  # target aa, nontarget ab, target bb, nontarget ac
    w = speaker_weights(enrol, test, n_boot=500, seed=3)
    # recompute from the same draws: counts of a, b, c per resample
    draws = np.random.default_rng(3).integers(0, 3, size=(500, 3))
    c = np.stack([np.bincount(d, minlength=3) for d in draws])
    assert np.array_equal(w, np.stack([c[:, 0], c[:, 0] * c[:, 1], c[:, 1], c[:, 0] * c[:, 2]], axis=1))
    assert w.mean(axis=0) == pytest.approx([1, 1 - 1 / 3, 1, 1 - 1 / 3], abs=0.15)  # E[c] = 1, E[c_a c_b] = 1 - 1/S


def test_bootstrap_separates_a_real_difference_from_none():
    rng = np.random.default_rng(1)
    spk = np.repeat(np.arange(20), 40).astype(str)  # 20 speakers, 40 trials each
    labels = rng.random(len(spk)) < 0.2
    good = np.where(labels, 1.0, 0.0) + rng.normal(0, 0.5, len(spk))
    worse = np.where(labels, 1.0, 0.0) + rng.normal(0, 1.0, len(spk))
    w = speaker_weights(spk, spk, 300, seed=0)
    boot = bootstrap_metrics([good, worse, good.copy()], labels, w, ("eer",))  # (systems, resamples, 1)
    lo, hi = quantile_interval(boot[0, :, 0] - boot[1, :, 0])
    assert hi < 0  # good is better on every part of the interval
    assert quantile_interval(boot[0, :, 0] - boot[2, :, 0]) == (0.0, 0.0)  # identical systems: no difference


def test_prior_variants():
    zig = np.r_[5.0, np.tile([1.0, 0.0], 40)]  # bin 0 (log energy) + an even/odd alternation
    s = smooth_alternation(zig)
    assert s[0] == 5.0 and np.allclose(s[2:-1], 0.5)  # the alternation is gone, the mean kept
    ramp = np.r_[9.0, np.arange(1.0, 161.0)]
    assert np.allclose(smooth_alternation(ramp)[2:-1], ramp[2:-1])  # a linear trend is unchanged
    v = np.random.default_rng(0).random(161)
    sh = shuffled(v, 0)
    assert np.array_equal(np.sort(sh), np.sort(v)) and sh[0] == v[0] and (sh != v).mean() > 0.9
    hz = np.r_[np.nan, np.arange(1, 161) * 50.0]
    band = band_indicator(hz, (2000, 3000))
    assert band[0] == 0 and band.sum() == 21 and band[40] == band[60] == 1 and band[39] == band[61] == 0
    with pytest.raises(ValueError, match="no feature bin"):
        band_indicator(hz, (9000, 9500))


def test_prior_runs_rejects_before_writing(tiny_egs, tmp_path):
    teacher, student = tiny_configs(tmp_path)
    out = tmp_path / "table"
    p = run(
        [
            "python",
            "-m",
            "steps.prior_runs",
            "--teacher-exp",
            str(tmp_path / "nope"),
            "--student-config",
            str(student),
            "--out",
            str(out),
            "--priors",
            "none bogus",
        ]
    )
    assert p.returncode == 1 and "unknown ['bogus']" in p.stderr and "valid: none, mel" in p.stderr
    assert not out.exists()


def test_prior_vectors_without_a_teacher(tmp_path):
    from core.errors import ConfigError
    from steps.prior_runs import prior_vector

    assert prior_vector("none", tmp_path, 161, None, None, 0) is None
    with pytest.raises(ConfigError, match="needs --oracle-band"):
        prior_vector("oracle", tmp_path, 161, None, None, 0)
    with pytest.raises(ConfigError, match="run ./b_extract.sh --teacher-exp"):
        prior_vector("eg", tmp_path, 161, None, None, 0)


def test_stage3_gives_each_side_by_side_run_its_gpu(tmp_path):
    """--gpus reaches every run's c_train.sh: with --jobs 2, worker w trains on GPU w mod n; with --jobs 1,
    every run on all of them. A stub c_train.sh in a copy of the scripts records what it was given."""
    import shutil

    from conftest import ROOT

    for part in ("local", "utils"):
        shutil.copytree(ROOT / part, tmp_path / part)
    for f in ("path.sh", "cmd.sh"):
        shutil.copy(ROOT / f, tmp_path / f)
    stub = tmp_path / "c_train.sh"  # writes its --gpus beside the scores a finished run has
    stub.write_text(
        "#!/usr/bin/env bash\nwhile [ $# -gt 0 ]; do case $1 in --exp-dir) d=$2;; --gpus) g=$2;; esac; shift 2; done\n"
        'mkdir -p "$d/scores" && echo "$g" > "$d/gpus" && touch "$d/scores/test_trials.score"\n'
    )
    stub.chmod(0o755)
    table = tmp_path / "t"
    table.mkdir()
    (table / "runs.tsv").write_text("".join(f"{p}_s{s}\t{p}\t{s}\n" for s in (1, 2) for p in ("none", "gradient")))
    common = ["bash", "local/prior_table.sh", "--table", "t", "--stage", "3", "--stop-stage", "3"]
    run([*common, "--jobs", "2", "--gpus", "3,5"], cwd=tmp_path, check=True)
    got = {r: (table / "runs" / r / "gpus").read_text().strip() for r in ("none_s1", "gradient_s1", "none_s2", "gradient_s2")}
    assert got == {"none_s1": "3", "gradient_s1": "5", "none_s2": "3", "gradient_s2": "5"}  # runs 1, 3: worker 0
    shutil.rmtree(table / "runs")
    run([*common, "--gpus", "3,5"], cwd=tmp_path, check=True)
    assert (table / "runs" / "gradient_s2" / "gpus").read_text().strip() == "3,5"  # --jobs 1: DDP over both
    p = run([*common, "--gpus", "0,,1"], cwd=tmp_path)
    assert p.returncode == 1 and "--gpus expects GPU numbers separated by commas" in p.stderr

"""run.sh end to end on the tiny preset (the README's command (1) runs the same script on 'demo')."""

import csv
import json

import numpy as np
import yaml

import pytest

from conftest import run, tiny_configs


@pytest.mark.slow
def test_run_sh_tiny(tmp_path):
    data, exp, table = tmp_path / "synth", tmp_path / "exp", tmp_path / "table"
    check_corpus_stages(data)
    teacher, student = tiny_configs(tmp_path, batch_size=32)
    recipe = ["--preset", "tiny", "--data", str(data), "--config", str(teacher), "--exp-dir", str(exp)]
    recipe += ["--student-config", str(student), "--table", str(table)]
    recipe += ["--table-priors", "none ig shuffled", "--table-seeds", "1 2"]
    # a rerun keeps the corpus and can start at a later stage; stage 3 trains, embeds and scores
    p = run(["./run.sh", "--stage", "1", *recipe, "--table-jobs", "2"])  # two students side by side
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "6/6 runs done, 0 left" in p.stdout and len(list((table / "log").glob("*_s?.log"))) == 6
    assert "Stage 0" not in p.stdout and "Stage 5" in p.stdout
    assert "EER" in (exp / "results.md").read_text()
    v = check_teacher_weights(exp)
    # stage 5 (local/prior_table.sh): three priors x two seeds in one printed table with the teacher
    ig_run = table / "runs" / "ig_s1"
    assert "EER" in (ig_run / "results.md").read_text()
    saved = yaml.safe_load((ig_run / "config.yaml").read_text())
    assert saved["model"]["attention"]["prior"] == str(table / "priors" / "ig.npy")
    assert np.array_equal(np.load(ig_run / "prior.npy"), v)
    check_prior_table(table, v, p.stdout)
    compare = (tmp_path / "compare_exp" / "results.md").read_text()  # stage 6: teacher + 6 students, one table
    assert "Stage 6" in p.stdout and compare.count("| test_trials |") == 7 and "| ig_s2 |" in p.stdout
    check_b_extract_reruns(data, exp)
    # the prior table again: every finished run is skipped and the table is the same
    before = (table / "results.csv").read_text()
    p = run(["./run.sh", "--stage", "5", "--stop-stage", "5", *recipe])
    assert p.returncode == 0 and p.stdout.count("finished, skipped") == 6, p.stdout[-2000:]
    assert (table / "results.csv").read_text() == before


def check_corpus_stages(data):
    """Stages 0-2: the corpus, its features (validated before and after) and the egs."""
    p = run(["./run.sh", "--preset", "tiny", "--data", str(data), "--nj", "1", "--stop-stage", "2"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Stage 0" in p.stdout and "Stage 1" in p.stdout and "Stage 2" in p.stdout
    assert p.stdout.count("Successfully validated") == 4  # before and after features
    for part in ("train", "test"):
        assert (data / part / "feats.scp").exists() and (data / part / "utt2num_frames").exists()
    assert (data / "train" / "trials_2w").exists()
    egs = data / "egs" / "spect"
    assert (egs / "train" / "feats.scp").exists() and (egs / "spk2label").exists()


def check_teacher_weights(exp):
    """Stage 4's IG frequency weights of the teacher: positive, one map per training speaker, plotted."""
    out = exp / "gradients" / "integrated_gradients"
    v = np.load(out / "freq_weights.npy")
    assert v.shape == (161,) and np.isfinite(v).all() and (v > 0).all()
    assert len((out / "maps.scp").read_text().splitlines()) == 8  # one utterance per training speaker
    for f in ("weights_integrated_gradients.png", "weights_integrated_gradients.pdf", "maps_integrated_gradients.png"):
        assert (exp / "plots" / f).exists()
    return v


def check_b_extract_reruns(data, exp):
    """b_extract.sh: a rerun with the same options is skipped; a CAM method runs on the same teacher."""
    log = exp / "gradients" / "integrated_gradients" / "log" / "cam_extract.1.log"
    again = ["--nj", "2", "--steps", "20", "--stop-stage", "1"]  # run.sh's IG points (its ig_steps)
    p = run(["./b_extract.sh", "--data", str(data), "--teacher-exp", str(exp), *again])
    assert p.returncode == 0 and "up to date, skipped" in log.read_text()
    p = run(["./b_extract.sh", "--teacher-exp", str(exp), "--method", "grad_cam", "--nj", "1"])
    assert p.returncode == 0, p.stderr[-2000:]


def check_prior_table(table, ig, stdout):
    grad = np.load(table.parent / "exp" / "gradients" / "gradient" / "freq_weights.npy")  # stage 1 made it for shuffled
    sh1, sh2 = (np.load(table / "priors" / f"shuffled_s{s}.npy") for s in (1, 2))
    for sh in (sh1, sh2):  # the gradient prior's values in other places, bin 0 (log energy) kept
        assert np.array_equal(np.sort(sh), np.sort(grad)) and sh[0] == grad[0] and (sh != grad).mean() > 0.9
    assert (sh1 != sh2).mean() > 0.9  # a new permutation per seed
    for name in ("none_s1", "none_s2", "ig_s2", "shuffled_s1", "shuffled_s2"):
        cfg = yaml.safe_load((table / "runs" / name / "config.yaml").read_text())
        assert cfg["train"]["seed"] == int(name[-1]) and (cfg["model"]["attention"] is None) == name.startswith("none")
    assert np.array_equal(np.load(table / "runs" / "shuffled_s2" / "prior.npy"), sh2)
    for row in (
        "| teacher (exp) | 1 |",
        "| none | 2 |",
        "| ig | 2 |",
        "| shuffled | 2 |",
        "| ig vs none | primary | eer | 2 |",
        "| shuffled vs none | exploratory | eer | 2 |",
        "too few nontargets",
    ):
        assert row in stdout
    assert json.loads((table / "plan.json").read_text())["primaries"] == [["ig", "none"]]  # gradient is not trained here
    lines = (table / "results.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in lines[1:]] == ["none", "ig", "shuffled"]
    assert {"eer_mean", "eer_sd", "mindcf_0.001_mean", "w_mean"} <= set(lines[0].split(","))
    comps = list(csv.DictReader((table / "comparisons.csv").open()))
    assert {(c["a"], c["kind"]) for c in comps} == {("ig", "primary"), ("shuffled", "exploratory")}
    assert all(float(c["lo"]) <= float(c["diff"]) <= float(c["hi"]) for c in comps)
    per_run = list(csv.DictReader((table / "runs.csv").open()))
    assert len(per_run) == 6 and {r["permutation"] for r in per_run if r["prior"] == "shuffled"} == {"0:1", "0:2"}
    assert all(r["converged"] in ("True", "False", "unknown (too few epochs)") and float(r["train_seconds"]) > 0 for r in per_run)
    gains = (table / "gains.csv").read_text().splitlines()
    assert len(gains) == 5 and len(gains[1].split(",")) == 5 + 161  # run, prior, seed, w, b, 161 gains
    for f in ("eer.png", "eer.pdf", "gains.png", "gains.pdf"):
        assert (table / "plots" / f).stat().st_size > 0


def test_run_sh_rejects_unknown_option():
    p = run(["./run.sh", "--no-such-option", "1"])
    assert p.returncode != 0 and "invalid option --no-such-option" in p.stderr

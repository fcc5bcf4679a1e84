"""What a user reaches for after training: verify two wavs, embed a list, export, compare systems,
progress in job logs, --help, model_info of an experiment."""

import json
import re
import shutil
import sys

import kaldiio
import numpy as np
import pytest
import torch

from conftest import call, make_wav, run


@pytest.fixture
def tools(user_exps):
    return user_exps


def wavs_of(data, utts):
    table = dict(line.split(None, 1) for line in (data / "test" / "wav.scp").read_text().splitlines())
    return [table[u].strip() for u in utts]


def test_verify_scores_a_pair_as_the_recipe_does(tools):
    t = tools["teacher"]
    lines = (t / "scores" / "raw.score").read_text().splitlines()[:3]
    rows = [ln.split() for ln in lines]
    args = [w for r in rows for w in wavs_of(tools["data"], r[:2])]
    p = call("steps.verify", ["--exp-dir", str(t), *args, "--threshold-from", "raw"])
    assert p.returncode == 0, p.stderr
    out = [ln.split() for ln in p.stdout.splitlines()]
    rec = json.loads((t / "scores" / "raw.json").read_text())
    assert f"EER threshold of {tools['raw'] / 'trials'}" in p.stderr
    for r, o in zip(rows, out):
        assert abs(float(o[2]) - float(r[2])) <= 1e-5  # same features, same model: the recipe's score
        assert o[3] == ("target" if float(o[2]) > rec["eer"]["threshold"] else "nontarget")
    # the default list is the one named 'trials' of the recipe's own scoring; a pipe input works too
    p = call("steps.verify", ["--exp-dir", str(t), f"cat {args[0]} |", args[1]])
    assert p.returncode == 0 and "test_trials" in p.stderr and len(p.stdout.splitlines()) == 1


def test_verify_refuses_bad_input(tools, tmp_path):
    t, good = tools["teacher"], wavs_of(tools["data"], ["spk0009-s01-00001"])[0]
    p = call("steps.verify", ["--exp-dir", str(t), good])
    assert p.returncode == 1 and "in pairs" in p.stderr
    low = make_wav(tmp_path / "low.wav", n=8000, sr=8000)
    p = call("steps.verify", ["--exp-dir", str(t), good, str(low)])
    assert p.returncode == 1 and "low" in p.stderr and "sample rate 8000" in p.stderr
    p = call("steps.verify", ["--exp-dir", str(t), good, good, "--threshold-from", "nope"])
    assert p.returncode == 1 and "nope" in p.stderr and "test_trials" in p.stderr


def test_embed_list_matches_data_dir_embeddings(tools, tmp_path):
    t = tools["teacher"]
    utts = ["spk0009-s01-00001", "spk0009-s02-00002", "spk0010-s01-00001"]
    w = wavs_of(tools["data"], utts)
    (tmp_path / "list").write_text(f"{w[0]}\n{utts[1]} {w[1]}\n{utts[2]} cat {w[2]} |\n")
    for out in ("e.npy", "e"):
        p = call("steps.embed", ["--exp-dir", str(t), "--wav-list", str(tmp_path / "list"), "--out", str(tmp_path / out)])
        assert p.returncode == 0, p.stderr
    ref = {k: v for k, v in kaldiio.load_scp_sequential(str(t / "embeddings" / "test_raw" / "xvector.scp"))}
    keys = (tmp_path / "e.keys").read_text().split()
    assert keys == utts  # a bare path is keyed by its stem
    mat, ark = np.load(tmp_path / "e.npy"), dict(kaldiio.load_scp_sequential(str(tmp_path / "e.scp")))
    for i, u in enumerate(utts):
        assert np.abs(mat[i] - ref[u]).max() <= 1e-5 and np.array_equal(mat[i], ark[u])
    spaced = tmp_path / "a dir" / "my utt.wav"  # a bare path with blanks: the key may not have them
    spaced.parent.mkdir()
    shutil.copy(w[0], spaced)
    (tmp_path / "spaced").write_text(f"{spaced}\n")
    p = call("steps.embed", ["--exp-dir", t, "--wav-list", tmp_path / "spaced", "--out", tmp_path / "s"])
    assert p.returncode == 0 and dict(kaldiio.load_scp_sequential(str(tmp_path / "s.scp"))).keys() == {"my_utt"}
    (tmp_path / "bad").write_text(f"{w[0]}\n{tmp_path}/missing.wav\n")
    p = call("steps.embed", ["--exp-dir", str(t), "--wav-list", str(tmp_path / "bad"), "--out", str(tmp_path / "bad.npy")])
    assert p.returncode == 1 and "missing.wav" in p.stderr and not (tmp_path / "bad.npy").exists()


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_equals_pytorch(tools, tmp_path, fmt):
    from recipe.experiment import load_exp_model

    s = tools["student"]  # with the attention layer
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")
        ort = pytest.importorskip("onnxruntime")
    out = tmp_path / f"m.{fmt}"
    p = call("steps.export", ["--exp-dir", str(s), "--format", fmt, "--out", str(out)])
    assert p.returncode == 0, p.stderr
    model, _, _, _ = load_exp_model(s)
    x = torch.randn(3, 251, 161) * 2 + 6  # a length and batch the export never saw
    with torch.no_grad():
        want = model(x)
        if fmt == "torchscript":
            got = torch.jit.load(str(out))(x)
        else:
            sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
            got = torch.from_numpy(sess.run(None, {"feats": x.numpy()})[0])
    assert (got - want).abs().max().item() <= 1e-5
    assert json.loads((tmp_path / "export.json").read_text())["max_abs_diff_vs_pytorch"] <= 1e-5


def test_compare_overlays_every_system(tools, tmp_path):
    p = call(
        "steps.compare",
        [
            str(tools["teacher"]),
            str(tools["student"]),
            "--out",
            str(tmp_path),
            "--labels",
            "teacher,student",
            "--published",
            "vox1_clean",
        ],
    )
    assert p.returncode == 0, p.stderr
    table = (tmp_path / "results.md").read_text()
    assert "| teacher |" in table and "| student |" in table and "test_trials" in table
    for f in ("det.png", "det.pdf", "weights.png", "weights.pdf"):
        assert (tmp_path / f).stat().st_size > 1000
    p = call("steps.compare", [str(tools["teacher"]), "--labels", "a,b", "--out", str(tmp_path)])
    assert p.returncode == 1 and "--labels" in p.stderr


def test_progress_lines_reach_a_run_pl_job_log(tools, tmp_path):
    log = tmp_path / "embed.1.log"
    p = run(
        [
            "utils/run.pl",
            "JOB=1:1",
            str(tmp_path / "embed.JOB.log"),
            sys.executable,
            "-m",
            "steps.extract_embeddings",
            "--exp-dir",
            str(tools["teacher"]),
            "--data-dir",
            str(tools["raw"]),
            "--set-name",
            "progress",
        ],
        env={"GFA_PROGRESS_EVERY": "0"},
    )
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("embed: ")]
    assert len(lines) >= 2 and re.fullmatch(
        r"embed: 16/16 chunk \(100\.0 %\), [\d.e+]+ chunk/s, elapsed \d+ s, ETA 0 s", lines[-1]
    ), lines


def test_train_log_has_time_command_inputs_and_eer_in_percent(tools):
    text = (tools["teacher"] / "log" / "train.log").read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d command: .*-m steps.train .*--config", text, re.M)
    assert re.search(r"egs \S+egs/spect \(spect, from data dir \S+\)", text)
    assert re.search(r" epoch 1/1 step (\d+)/\1 train_loss ", text)  # where the run is in its budget
    student = (tools["student"] / "log" / "train.log").read_text()
    assert "egs/spect_vad" in student


def test_model_info_reports_the_experiments_head(tools):
    p = call("steps.model_info", ["--exp-dir", str(tools["student"]), "--no-layers"])
    assert p.returncode == 0, p.stderr
    assert "for 8 classes" in p.stdout  # the tiny corpus has 8 training speakers, not 1211


def test_merge_needs_a_set_name(tools):
    p = call("steps.extract_embeddings", ["--exp-dir", str(tools["teacher"]), "--merge"])
    assert p.returncode == 1 and "--set-name" in p.stderr


SHELL_STEPS = [
    "a_prep_egs.sh",
    "b_extract.sh",
    "c_train.sh",
    "run.sh",
    "local/prior_table.sh",
    "steps/make_spect.sh",
    "steps/make_fbank.sh",
    "steps/make_mfcc.sh",
    "steps/compute_vad_decision.sh",
]


@pytest.mark.parametrize("script", SHELL_STEPS)
def test_help_lists_every_option_with_its_meaning(script):
    p = run(f"./{script} --help")
    assert p.returncode == 0, p.stderr
    opts = [ln for ln in p.stdout.splitlines() if ln.startswith("  --")]
    assert len(opts) >= 3
    undocumented = [ln for ln in opts if not ln[56:].strip()]
    assert not undocumented, undocumented


def test_argparse_help_shows_defaults():
    p = call("steps.extract_embeddings", ["--help"])
    text = " ".join(p.stdout.split())
    assert "(default: 3000)" in text and "(default: auto)" in text

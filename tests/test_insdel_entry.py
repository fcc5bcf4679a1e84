"""steps.insdel / b_extract.sh stage 3 on a tiny teacher: outputs, resume, and bad input."""

import csv
import json
import os
import shutil

import kaldiio
import numpy as np
import pytest
import torch

from conftest import run, train_args


@pytest.fixture(scope="module")
def teacher(tiny_egs, tmp_path_factory):
    """A tiny teacher (one epoch) with gradient and grad_cam maps of 1 utterance per training speaker."""
    from steps.cam_extract import main as extract
    from steps.train import main as train

    exp = tmp_path_factory.mktemp("insdel") / "teacher"
    assert train(train_args(tiny_egs, exp)[3:]) == 0
    for method in ("gradient", "grad_cam"):
        assert extract(["--exp-dir", str(exp), "--method", method, "--device", "cpu"]) == 0
    return exp


def insdel(*args):
    from steps.insdel import main

    return main(["--device", "cpu", "--insert-grid", "0,0.25,0.5,0.75,1", "--delete-grid", "0,0.1,0.5,1", *map(str, args)])


def copy_exp(teacher, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(teacher, exp, ignore=shutil.ignore_patterns("insdel"))
    return exp


def test_report_and_resume(teacher, tmp_path, capsys):
    exp = copy_exp(teacher, tmp_path)
    rec = exp / "gradients" / "grad_cam" / "extract.json"  # one data dir named relatively and absolutely
    info = json.loads(rec.read_text())
    rec.write_text(json.dumps({**info, "data_dir": os.path.relpath(info["data_dir"])}))
    assert insdel("--exp-dir", exp, "--oracle-band", "2000-3000") == 0
    out = exp / "insdel"
    rows = list(csv.DictReader((out / "auc.csv").open()))
    names = {(r["method"], r["level"], r["fill"]) for r in rows}
    for m in ("gradient", "grad_cam", "random", "oracle"):
        assert (m, "rows", "dataset_mean") in names and (m, "points", "time_mean") in names, m
    assert all(0 <= float(r["insertion_auc_top1"]) <= 1 for r in rows)
    table = (out / "results.md").read_text()
    assert "| gradient |" in table and "0.4528" in table  # the paper's figure beside ours
    pairs = list(csv.DictReader((out / "pairs.csv").open()))  # paired differences: next in rank, and vs random
    assert "## Paired differences" in table and {"insertion", "deletion"} == {r["mode"] for r in pairs}
    assert {r["a"] for r in pairs if r["b"] == "random"} >= {"gradient", "grad_cam", "oracle"}
    assert all(float(r["lo"]) <= float(r["auc_diff"]) <= float(r["hi"]) for r in pairs)
    for f in ("insert.png", "delete.png", "insert_rows_dataset_mean.png", "delete_points_zero.pdf"):
        assert (out / "plots" / f).stat().st_size > 0, f
    before = (out / "curves.csv").read_text()
    # a killed run: two utterances lost, the last line torn mid-write; the rerun does only those
    (progress,) = (out / "progress").glob("*.jsonl")
    lines = progress.read_text().splitlines(keepends=True)
    progress.write_text("".join(lines[:-2]) + lines[-2][:40])
    capsys.readouterr()
    assert insdel("--exp-dir", exp, "--oracle-band", "2000-3000") == 0
    err = capsys.readouterr().err
    assert f"{len(lines) - 2} already done" in err and "insdel: 2/2 utt (100.0 %)" in err, err
    assert (out / "curves.csv").read_text() == before


def test_bad_inputs_are_clear_errors(teacher, tmp_path, capsys):
    exp = copy_exp(teacher, tmp_path)
    assert insdel("--exp-dir", exp, "--insert-grid", "0,0.6,0.5,1") == 1
    assert "--insert-grid: proportions must increase, but 0.6 is followed by 0.5" in capsys.readouterr().err
    assert insdel("--exp-dir", exp, "--delete-grid", "0,1.5") == 1
    assert "must lie in [0, 1]" in capsys.readouterr().err
    scp = exp / "gradients" / "grad_cam" / "maps.scp"
    lines = scp.read_text().splitlines(keepends=True)
    scp.write_text("".join(lines[1:]))
    assert insdel("--exp-dir", exp) == 1
    err = capsys.readouterr().err
    assert "grad_cam/maps.scp: no maps for 1 of the 8 utterances" in err and lines[0].split()[0] in err, err
    scp.write_text("".join(lines))
    maps = dict(kaldiio.load_scp(str(scp)))
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/short.ark,{scp}") as w:
        for u, m in sorted(maps.items()):
            w(u, m[:-3])  # three frames short
    assert insdel("--exp-dir", exp) == 1
    err = capsys.readouterr().err
    assert "grad_cam map of" in err and "but its features are" in err, err
    assert insdel("--exp-dir", exp, "--methods", "no_such") == 1
    assert "no_such/maps.scp not found" in capsys.readouterr().err


def test_a_teacher_without_a_head_is_refused(teacher, tmp_path, capsys):
    exp = copy_exp(teacher, tmp_path)
    for ck in (exp / "checkpoints").glob("*.pt"):
        state = torch.load(ck, weights_only=True)
        state.pop("head", None)
        torch.save(state, ck)
    assert insdel("--exp-dir", exp, "--methods", "gradient") == 1
    assert "has no classification head" in capsys.readouterr().err


def test_b_extract_stage_3_logs_progress_through_run_pl(teacher, tmp_path):
    exp = copy_exp(teacher, tmp_path)
    p = run(
        [
            "./b_extract.sh",
            "--teacher-exp",
            str(exp),
            "--stage",
            "3",
            "--stop-stage",
            "3",
            "--insdel-methods",
            "gradient",
            "--insdel-levels",
            "rows",
            "--point-fills",
            "zero",
        ]
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    log = (exp / "insdel" / "log" / "insdel.log").read_text()
    assert "insdel: 8/8 utt (100.0 %)" in log and "ETA" in log  # progress lines reach the job log
    rows = list(csv.DictReader((exp / "insdel" / "auc.csv").open()))
    assert {r["method"] for r in rows} == {"gradient", "random"} and {r["level"] for r in rows} == {"rows"}
    assert np.isfinite([float(r["deletion_auc_top5"]) for r in rows]).all()

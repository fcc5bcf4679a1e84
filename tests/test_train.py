"""Training: exact resume after SIGKILL, DDP on CPU (gloo), bad inputs, embeddings, scoring, c_train.sh."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import merge_sets, ROOT, call, run, tiny_configs
from training.checkpoint import load_checkpoint

SMALL = [
    "model.channels=[4, 8]",
    "model.embedding_dim=32",
    "train.batch_size=16",
    "train.crop_min=60",
    "train.crop_max=100",
    "train.valid_frames=100",
    "margin_warmup.steps=10",
    "train.num_workers=0",
]


@pytest.fixture(scope="module")
def recipe(tiny_corpus, tmp_path_factory):
    """The tiny corpus with features, trials and 120-frame egs."""
    data = tmp_path_factory.mktemp("train") / "synth"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns("wav"))
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 200 --num-frames 120 --input-per-spks 40")
    assert p.returncode == 0, p.stderr
    return data


def train_cmd(recipe, exp, *sets, extra=()):
    args = [
        sys.executable,
        "-m",
        "steps.train",
        "--config",
        "conf/demo_rescnn.yaml",
        "--egs-dir",
        str(recipe / "egs" / "spect"),
        "--exp-dir",
        str(exp),
        "--device",
        "cpu",
        *extra,
    ]
    for s in merge_sets(SMALL, sets):
        args += ["--set", s]
    return args


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def weights(exp):
    return load_checkpoint(exp / "checkpoints" / "last.pt")["model"]


def test_resume_after_sigkill_gives_identical_weights(recipe, tmp_path):
    p = run(train_cmd(recipe, tmp_path / "a", "train.epochs=3"), env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    exp_b = tmp_path / "b"
    proc = subprocess.Popen(
        train_cmd(recipe, exp_b, "train.epochs=3", extra=["--save-every-steps", "3"]),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_at = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        last = exp_b / "checkpoints" / "last.pt"
        if last.exists():
            ck = load_checkpoint(last)
            if ck["epoch"] >= 1 and ck["batch_in_epoch"] > 0:  # mid-epoch, after an epoch boundary
                proc.send_signal(signal.SIGKILL)
                killed_at = (ck["epoch"], ck["batch_in_epoch"])
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None, "training finished before it could be killed"
    assert load_checkpoint(exp_b / "checkpoints" / "last.pt")["epoch"] < 3
    p = run(train_cmd(recipe, exp_b, "train.epochs=3", extra=["--save-every-steps", "3"]), env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert "resumed from" in p.stdout
    a, b = weights(tmp_path / "a"), weights(exp_b)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ck = load_checkpoint(exp_b / "checkpoints" / "last.pt")
    assert {"optimizer", "scheduler", "margin", "torch_rng", "config", "history"} <= set(ck)


def test_ddp_two_cpu_processes(recipe, tmp_path):
    exp = tmp_path / "ddp"
    args = train_cmd(recipe, exp, "train.epochs=1")
    args[1:3] = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "steps.train"]
    p = subprocess.run(args, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "world 2" in p.stdout
    ck = load_checkpoint(exp / "checkpoints" / "checkpoint_1.pt")
    assert ck["step"] == 10  # 320 egs / 16 per batch / 2 ranks
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def test_config_change_and_foreign_checkpoint_are_errors(recipe, tmp_path):
    exp = tmp_path / "c"
    assert run(train_cmd(recipe, exp, "train.epochs=1")).returncode == 0
    p = run(train_cmd(recipe, exp, "train.epochs=1", "model.dropout=0.5"))
    assert p.returncode == 1 and "differs from conf/demo_rescnn.yaml + --set (at ['model.dropout'])" in p.stderr
    other = tmp_path / "d"
    (other / "checkpoints").mkdir(parents=True)
    shutil.copy(exp / "checkpoints" / "last.pt", other / "checkpoints" / "last.pt")
    p = run(train_cmd(recipe, other, "train.epochs=1", "model.channels=[4, 4]"))
    assert p.returncode == 1 and "written with another config" in p.stderr
    p = run(train_cmd(recipe, tmp_path / "e", "train.epochs=1", "train.epoch=2"))
    assert p.returncode == 1 and "unknown key 'epoch'" in p.stderr and not (tmp_path / "e").exists()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(recipe, tmp_path):
    exp = tmp_path / "nan"
    p = run(
        train_cmd(
            recipe,
            exp,
            "train.epochs=2",
            "optim.name=SGD",
            "optim.lr=1.0e+30",
            "optim.momentum=0.0",
            "scheduler.name=MultiStepLR",
            extra=["--save-every-steps", "1"],
        )
    )
    assert p.returncode == 1
    assert "non-finite loss" in p.stderr and "at epoch 1, step" in p.stderr
    last = exp / "checkpoints" / "last.pt"
    if last.exists():  # steps before the NaN were saved; they hold finite weights
        assert all(torch.isfinite(v).all() for v in load_checkpoint(last)["model"].values() if v.is_floating_point())


def test_egs_dimension_and_size_are_checked(recipe, tmp_path):
    p = run(train_cmd(recipe, tmp_path / "f", "train.epochs=1", "data.feat_dim=80"))
    assert p.returncode == 1 and "egs have 161 frequency bins but data.feat_dim is 80" in p.stderr
    p = run(train_cmd(recipe, tmp_path / "g", "train.epochs=1", "train.batch_size=1000"))
    assert p.returncode == 1 and "fewer than one batch of 1000" in p.stderr


def test_egs_labels_must_fit_the_head(recipe, tmp_path):
    egs = tmp_path / "egs"
    shutil.copytree(recipe / "egs" / "spect", egs)
    (egs / "spk2label").write_text("spk0001 0\nspk0002 1\n")
    args = train_cmd(recipe, tmp_path / "x", "train.epochs=1")
    args[args.index("--egs-dir") + 1] = str(egs)
    p = run(args)
    assert p.returncode == 1 and "but the head has 2 classes" in p.stderr


def test_embeddings_and_scoring(recipe, tmp_path):
    exp = tmp_path / "s"
    assert run(train_cmd(recipe, exp, "train.epochs=1", "train.average_last=1")).returncode == 0
    p = run(
        f"utils/run.pl JOB=1:2 {exp}/log/e.JOB.log python -m steps.extract_embeddings --exp-dir {exp} "
        f"--data-dir {recipe}/test --job JOB --num-jobs 2 && "
        f"python -m steps.extract_embeddings --exp-dir {exp} --set-name test --merge --num-jobs 2"
    )
    assert p.returncode == 0, p.stderr
    p = run(["python", "-m", "steps.score", "--exp-dir", str(exp), "--trials", f"{recipe}/test/trials"])
    assert p.returncode == 0, p.stderr
    assert "EER" in p.stdout and (exp / "scores" / "test_trials.det.png").exists()
    rows = [r for r in (exp / "results.md").read_text().splitlines() if r.startswith("| 2")]
    assert len(rows) == 1 and "| cosine | 120 |" in rows[0]
    bad = tmp_path / "trials"
    bad.write_text(f"{(recipe / 'test' / 'trials').read_text().split()[0]} spk0099-s01-00001 target\n")
    p = run(["python", "-m", "steps.score", "--exp-dir", str(exp), "--trials", str(bad), "--embeddings", "test"])
    assert p.returncode == 1 and "utterance 'spk0099-s01-00001' has no embedding" in p.stderr


@pytest.mark.slow
def test_c_train_stages(recipe, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(recipe, data, ignore=shutil.ignore_patterns("egs"))
    lines = (data / "test" / "trials").read_text().splitlines()
    (data / "test" / "trials_hard").write_text("\n".join(lines[::2]) + "\n")  # a second list, as Vox1-H
    teacher, _ = tiny_configs(tmp_path)
    args = f"./c_train.sh --data {data} --egs-dir {recipe}/egs/spect --config {teacher} --exp-dir {tmp_path}/exp --asnorm true"
    p = run(args)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    for s in (
        "Stage 1",
        "Stage 2",
        "Stage 3: score 2 trials list(s)",
        "thread(s) per job: 2 job(s) side by side",
        "AS-norm cohort: 8 speaker means of 40 embeddings",
    ):
        assert s in p.stdout
    rows = [r for r in (tmp_path / "exp" / "results.md").read_text().splitlines() if r.startswith("| 2")]
    assert len(rows) == 4 and sum("trials_hard | cosine | 60 |" in r for r in rows) == 1  # 2 lists x (cosine, AS-norm)
    assert (tmp_path / "exp" / "scores" / "test_trials_hard.score").exists()
    p = run(args + " --stage 3")  # rescoring replaces the rows
    assert p.returncode == 0 and (tmp_path / "exp" / "results.md").read_text().count("\n| 2") == 4
    p = run(f"./c_train.sh --data {data} --config {teacher} --stage 4 --stop-stage 4 --att-weights {tmp_path}/none.npy")
    assert p.returncode == 1 and "run ./b_extract.sh first" in p.stderr
    _, student = tiny_configs(tmp_path)  # stage 4 runs stages 1-3 on the student with the weights as its prior
    np.save(tmp_path / "w.npy", np.linspace(1.0, 2.0, 161))
    p = run(
        f"./c_train.sh --data {data} --egs-dir {recipe}/egs/spect --stage 4 --stop-stage 4 --att-config {student} "
        f"--att-exp-dir {tmp_path}/student --att-weights {tmp_path}/w.npy --test-while-training false"
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Stage 4" in p.stdout and "Stage 3: score 2 trials list(s)" in p.stdout and "Stage 1: train" in p.stdout
    assert np.allclose(np.load(tmp_path / "student" / "prior.npy"), np.linspace(1.0, 2.0, 161))
    assert (tmp_path / "student" / "scores" / "test_trials_hard.score").exists()


def test_average_of_last_checkpoints(recipe, tmp_path):
    from training.checkpoint import epoch_checkpoints

    exp = tmp_path / "avg"
    p = run(train_cmd(recipe, exp, "train.epochs=2", "train.average_last=2", "train.keep_last=2"))
    assert p.returncode == 0, p.stderr
    paths = [q for _, q in epoch_checkpoints(exp / "checkpoints")]
    assert [q.name for q in paths] == ["checkpoint_1.pt", "checkpoint_2.pt"]
    avg = load_checkpoint(exp / "checkpoints" / "avg_2.pt")["model"]
    one, two = (load_checkpoint(q)["model"] for q in paths)
    k = next(k for k, v in avg.items() if v.is_floating_point() and v.numel() > 10)
    assert torch.allclose(avg[k], (one[k] + two[k]) / 2)
    p = run(["python", "-m", "steps.extract_embeddings", "--exp-dir", str(exp), "--data-dir", str(recipe / "test")])
    assert p.returncode == 0 and "avg_2.pt" in p.stdout


def test_train_compile_compiles_the_model_in_place(recipe, tmp_path, monkeypatch):
    """train.compile: the model goes through torch.compile and checkpoints keep eager's parameter
    names (no ``_orig_mod.`` prefix). Dynamo's eager backend stands in for the inductor here (whose C++
    build takes minutes on CPU; bench/train.py --compile measures the real one and the loss)."""
    compiled, original = [], torch.nn.Module.compile

    def eager_backend(self, *args, **kwargs):
        compiled.append(type(self).__name__)
        return original(self, backend="eager")

    monkeypatch.setattr(torch.nn.Module, "compile", eager_backend)
    monkeypatch.setenv("GFA_MALLOC", "default")  # in this process: leave the test runner's malloc alone
    p = call("steps.train", train_cmd(recipe, tmp_path / "c", "train.epochs=1", "train.crop_min=100", "train.compile=true")[3:])
    torch._dynamo.reset()
    assert p.returncode == 0, p.stderr
    assert compiled == ["ResCNN"]
    keys = list(weights(tmp_path / "c"))
    assert keys and not any("_orig_mod" in k for k in keys), keys[:3]
    assert "train_loss" in (tmp_path / "c" / "log" / "train.log").read_text()


def test_budget_curves_and_convergence_verdict(recipe, tmp_path):
    """A run stopped too early says 'not converged' with its figures; the same run given its budget
    says 'converged'. Both write the curves (CSV, plot), training.json and the results.md line."""
    import json

    verdicts = {}
    for name, budget in (("short", "train.steps=50"), ("long", "train.passes=20")):
        exp = tmp_path / name
        p = run(train_cmd(recipe, exp, budget, "margin_warmup.fraction=0.1", "scheduler.warmup=0.05", "train.test_every=100"))
        assert p.returncode == 0, p.stderr[-2000:]
        rec = json.loads((exp / "training.json").read_text())
        verdicts[name] = rec["converged"]
        assert rec["verdict"] in p.stdout and rec["verdict"] in (exp / "log" / "train.log").read_text()
        assert f"Training: {rec['budget']}; {rec['verdict']}" in (exp / "results.md").read_text()
        rows = (exp / "log" / "training.csv").read_text().splitlines()
        assert rows[0].startswith("epoch,step,train_loss,valid_loss") and int(rows[-1].split(",")[1]) == rec["steps"]
        assert (exp / "plots" / "training.png").stat().st_size > 10_000
    assert "50 steps (train.steps) = 2.5 passes over 320 egs" in (tmp_path / "short" / "log" / "train.log").read_text()
    assert "400 steps = 20 passes (train.passes)" in (tmp_path / "long" / "log" / "train.log").read_text()
    assert verdicts == {"short": False, "long": True}
    assert "not converged: raise train.steps" in (tmp_path / "short" / "results.md").read_text()

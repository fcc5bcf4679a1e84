import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(cmd, cwd=ROOT, env=None, check=False, **kw):
    """Run a shell command with the repo on PYTHONPATH; return CompletedProcess (text)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e["PATH"]
    e.update(env or {})
    p = subprocess.run(cmd, shell=isinstance(cmd, str), cwd=cwd, env=e, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def call(module: str, args) -> subprocess.CompletedProcess:
    """An entry point's main(args) in this process (no interpreter + torch start): its exit code and
    what it printed, as run() returns them."""
    import contextlib
    import importlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = importlib.import_module(module).main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(module, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """The 'tiny' synthetic corpus, generated once per test session (read-only for tests)."""
    from datasets.synthetic import generate_corpus

    out = tmp_path_factory.mktemp("tiny") / "synth"
    generate_corpus(out, "tiny", seed=1)
    return out


@pytest.fixture(scope="session")
def tiny_egs(tiny_corpus, tmp_path_factory):
    """The tiny corpus with features, trials and 120-frame egs (16 per speaker), made once per test
    session; tests read it and write elsewhere."""
    import shutil

    data = tmp_path_factory.mktemp("tiny_egs") / "synth"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns("wav"))
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 100 --num-frames 120 --input-per-spks 16")
    assert p.returncode == 0, p.stderr
    return data


def _build_user_exps(tiny_egs: Path, root: Path) -> None:
    """Under root: data/ (the tiny corpus with energy VAD and VAD egs), teacher/ (plain egs) and
    student/ (mel attention prior, data.vad: true, VAD egs) trained, embedded and scored as c_train.sh does,
    and raw/test (the test set's features without compression, embedded and scored by the teacher as
    'raw')."""
    import shutil
    import yaml

    data = root / "data"
    shutil.copytree(tiny_egs, data, ignore=shutil.ignore_patterns("egs", ".a_prep_egs.stage5.done"))
    run(f"./a_prep_egs.sh --data {data} --num-pairs 100 --num-frames 120 --input-per-spks 16 --vad true", check=True)
    teacher, student = tiny_configs(root)
    cfg = yaml.safe_load(student.read_text())
    cfg["data"]["vad"] = True
    student.write_text(yaml.safe_dump(cfg))
    raw = root / "raw" / "test"
    raw.mkdir(parents=True)
    for f in ("wav.scp", "utt2spk", "spk2utt", "trials"):
        shutil.copy(tiny_egs / "test" / f, raw / f)
    run(f"steps/make_spect.sh --nj 1 --compress false {raw}", check=True)
    t = root / "teacher"
    steps = []  # what c_train.sh stages 1-3 run, called in this process (no interpreter + torch start each)
    for exp, conf, egs in ((t, teacher, tiny_egs / "egs" / "spect"), (root / "student", student, data / "egs" / "spect_vad")):
        steps += [
            ("steps.train", ["--config", conf, "--egs-dir", egs, "--exp-dir", exp, "--device", "cpu"]),
            ("steps.extract_embeddings", ["--exp-dir", exp, "--data-dir", data / "test"]),
            ("steps.score", ["--exp-dir", exp, "--trials", data / "test" / "trials", "--embeddings", "test"]),
        ]
    steps += [
        ("steps.extract_embeddings", ["--exp-dir", t, "--data-dir", raw, "--set-name", "test_raw"]),
        ("steps.score", ["--exp-dir", t, "--trials", raw / "trials", "--embeddings", "test_raw", "--name", "raw"]),
    ]
    for module, args in steps:
        p = call(module, args)
        assert p.returncode == 0, p.stderr
    (root / "done").touch()


def _run_dir(tmp_path_factory) -> Path:
    """The directory of this test run, shared by its pytest-xdist workers: the parent of a worker's base
    temp dir under xdist, the base temp dir itself without it (its parent holds every earlier run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def user_exps(tiny_egs, tmp_path_factory):
    """Trained experiments for the user tools (verify, embed, export, compare, VAD), built once per test
    run: the first pytest-xdist worker to get here builds them (under a lock), the others reuse them."""
    import fcntl

    root = _run_dir(tmp_path_factory) / "user_exps"
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            import shutil

            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            _build_user_exps(tiny_egs, root)
    return {"data": root / "data", "raw": root / "raw" / "test", "teacher": root / "teacher", "student": root / "student"}


FAKE_SBATCH = """#!/bin/bash
# fake sbatch: record the call, run every array task locally, print the job id (--parsable)
echo "$@" >> "$(dirname "$0")/calls"
array=; script=
for a in "$@"; do case $a in --array=*) array=${a#--array=};; -*) ;; *) script=$a;; esac; done
range=${array%%%*}; s=${range%-*}; e=${range#*-}
for ((i=s;i<=e;i++)); do SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=4242 bash "$script" >/dev/null 2>&1; done
echo 4242
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


def tiny_configs(tmp_path: Path, batch_size: int = 16) -> tuple[Path, Path]:
    """conf/demo_rescnn.yaml shrunk to seconds of training: (teacher YAML, the same with the mel
    attention prior for a student), written under tmp_path."""
    import yaml

    cfg = yaml.safe_load((ROOT / "conf" / "demo_rescnn.yaml").read_text())
    cfg["model"].update(channels=[4, 8], embedding_dim=32)
    cfg["train"].update(epochs=1, batch_size=batch_size, crop_min=60, crop_max=100, valid_frames=100)
    teacher, student = tmp_path / "tiny.yaml", tmp_path / "tiny_att.yaml"
    teacher.write_text(yaml.safe_dump(cfg))
    cfg["model"]["attention"] = {"prior": "mel"}
    student.write_text(yaml.safe_dump(cfg))
    return teacher, student


def small_model(name: str):
    """A small ResCNN / TDNN / ECAPA_TDNN (161 bins) with non-trivial BN statistics, in eval mode, and
    an AAM head over 6 classes."""
    import torch
    from losses import build_loss
    from models.registry import build_model

    torch.manual_seed(1)
    cfg = {
        "ResCNN": {"name": "ResCNN", "channels": [8, 16]},
        "TDNN": {"name": "TDNN", "channels": [32, 32, 32, 32, 64]},
        "ECAPA_TDNN": {"name": "ECAPA_TDNN", "channels": 64},
    }[name]
    model = build_model(cfg, 161)
    head = build_loss({"name": "AAMSoftmax"}, model.emb_dim, 6)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 90, 161) * 2 + 1)
    return model.eval(), head.eval()


def make_wav(path, n=8000, sr=16000, seed=0):
    x = (np.random.default_rng(seed).standard_normal(n) * 3000).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.tobytes())
    return path


def make_data_dir(d, utts, wavs=None):
    """A data dir of utts (id -> speaker) with a wav each (made unless given)."""
    wavs = wavs or {u: make_wav(d / "wav" / f"{u}.wav", seed=i) for i, u in enumerate(utts)}
    write(d / "wav.scp", "".join(f"{u} {wavs[u]}\n" for u in sorted(utts)))
    write(d / "utt2spk", "".join(f"{u} {utts[u]}\n" for u in sorted(utts)))
    spk = {}
    for u in sorted(utts):
        spk.setdefault(utts[u], []).append(u)
    write(d / "spk2utt", "".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk.items())))
    return d


def train_args(egs_root, exp, *sets, cfg=None):
    """steps.train on the tiny egs with a tiny demo_rescnn, one epoch (argv, python first)."""
    args = [
        "python",
        "-m",
        "steps.train",
        "--config",
        str(cfg or ROOT / "conf" / "demo_rescnn.yaml"),
        "--egs-dir",
        str(egs_root / "egs" / "spect"),
        "--exp-dir",
        str(exp),
        "--device",
        "cpu",
    ]
    for s in merge_sets(
        [
            "model.channels=[4, 8]",
            "model.embedding_dim=32",
            "train.batch_size=16",
            "train.crop_min=60",
            "train.crop_max=100",
            "train.valid_frames=100",
            "train.num_workers=0",
            "train.epochs=1",
        ],
        sets,
    ):
        args += ["--set", s]
    return args


def merge_sets(defaults, sets):
    """A test's --set values replacing the helper's defaults of the same key (steps.train refuses one key
    given twice)."""
    keys = {s.split("=", 1)[0] for s in sets}
    return [d for d in defaults if d.split("=", 1)[0] not in keys] + list(sets)


# a teacher trained on a planted band (test_saliency, test_insdel)
BAND = (2000, 3000)


def _train_planted() -> dict:
    """A small ResCNN trained (about 30 s on CPU) on speakers that differ only in 2-3 kHz: tensors and
    state dicts only."""
    import copy
    import torch
    from datasets.feat_opts import read_options
    from datasets.kaldi_feats import compute_batch
    from datasets.synthetic import Preset, plan_corpus, render
    from losses import build_loss

    torch.manual_seed(0)
    n_spk, n_utt = 12, 24
    train, _ = plan_corpus(Preset(n_spk, 0, n_utt, 0, 2, 2.0, 2.0), seed=5)
    opts, _ = read_options("spect", str(ROOT / "conf" / "spect_161.conf"), ["--dither=0"])
    feats = [torch.from_numpy(f) for f in compute_batch([render(u, 5, BAND) for u in train], opts)]
    labels = torch.tensor([u.spk_index for u in train])
    model = _planted_model()
    head = build_loss({"name": "AAMSoftmax"}, 64, n_spk)
    untrained = copy.deepcopy(model)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        idx = rng.integers(0, len(feats), 32)
        starts = rng.integers(0, len(feats[0]) - 120, 32)
        x = torch.stack([feats[i][s : s + 120] for i, s in zip(idx, starts)])  # (batch, time, freq)
        loss, logits = head.loss(model(x), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (logits.argmax(1) == labels[idx]).float().mean().item()
    return {
        "model": model.state_dict(),
        "untrained": untrained.state_dict(),
        "head": head.state_dict(),
        "x": torch.stack(feats[::n_utt]),
        "y": labels[::n_utt],  # one utterance per speaker
        "refs": torch.stack(feats[1::n_utt]),
        "acc": torch.tensor(acc),
    }


def _planted_model():
    from models.registry import build_model

    return build_model({"name": "ResCNN", "channels": [8, 16, 32], "embedding_dim": 64}, 161)


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """The planted-band teacher, trained once per test run: the first pytest-xdist worker to get here
    trains and saves it (under a lock) in the run's shared temp dir, the others load it."""
    import fcntl
    import torch
    from losses import build_loss

    cache = _run_dir(tmp_path_factory) / "planted_band_teacher.pt"
    with open(str(cache) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.exists():
            torch.save(_train_planted(), cache)
        state = torch.load(cache, weights_only=True)
    model, untrained = _planted_model(), _planted_model()
    model.load_state_dict(state["model"])
    untrained.load_state_dict(state["untrained"])
    head = build_loss({"name": "AAMSoftmax"}, 64, len(state["y"]))
    head.load_state_dict(state["head"])
    return {
        "model": model.eval(),
        "untrained": untrained.eval(),
        "head": head.eval(),
        "x": state["x"],
        "y": state["y"],
        "refs": list(state["refs"]),
        "acc": state["acc"].item(),
    }


SLOW_FIXTURES = {"planted"}  # trains the planted-band teacher, about 3 minutes of one core, once per run


def pytest_collection_modifyitems(config, items):
    """Every test on a slow fixture is marked slow, besides the ones marked by hand."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

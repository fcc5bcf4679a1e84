"""Experiments own their inputs: egs fingerprint and label index in exp/, students keep their prior
values, resume against other inputs is an error, the seed's commands run without path.sh, libraries
never import steps/, and every atomic write keeps the umask's file mode."""

import ast
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import merge_sets, ROOT, run, tiny_configs

SMALL = ["train.batch_size=16", "train.num_workers=0"]


@pytest.fixture(scope="module")
def teacher(tiny_egs, tmp_path_factory):
    """A tiny teacher trained for one epoch on the shared tiny egs."""
    base = tmp_path_factory.mktemp("exp")
    data = tiny_egs
    cfg, student = tiny_configs(base)
    exp = base / "teacher"
    p = run(train(cfg, data / "egs" / "spect", exp))
    assert p.returncode == 0, p.stderr
    return {"data": data, "exp": exp, "cfg": cfg, "student": student, "base": base}


def train(cfg, egs, exp, *sets):
    args = [sys.executable, "-m", "steps.train", "--config", str(cfg), "--egs-dir", str(egs), "--exp-dir", str(exp)]
    args += ["--device", "cpu"]
    for s in merge_sets(SMALL, sets):
        args += ["--set", s]
    return args


def test_exp_records_its_inputs(teacher):
    exp, data = teacher["exp"], teacher["data"]
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    inputs = saved["inputs"]
    assert inputs["egs_dir"] == str((data / "egs" / "spect").resolve()) and len(inputs["egs_fingerprint"]) == 64
    assert inputs["feat_type"] == "spect" and inputs["data_dir"] == str((data / "train").resolve())
    assert (exp / "spk2label").read_bytes() == (data / "egs" / "spect" / "spk2label").read_bytes()
    assert (exp / "feats.conf").read_text() == (ROOT / "conf" / "spect_161.conf").read_text()
    assert inputs["prior"] is None and inputs["num_classes"] == 8


def test_rerun_on_other_egs_fails_naming_the_difference(teacher, tmp_path):
    other = tmp_path / "egs_b"
    shutil.copytree(teacher["data"] / "egs" / "spect", other)
    rows = (other / "train" / "egs2src").read_text().splitlines()
    (other / "train" / "egs2src").write_text("\n".join(rows[1:] + rows[:1]) + "\n")  # other content
    before = (teacher["exp"] / "config.yaml").read_bytes()
    p = run(train(teacher["cfg"], other, teacher["exp"]))
    assert p.returncode == 1
    assert "was trained on other inputs" in p.stderr and "inputs.egs_dir: was" in p.stderr
    assert "inputs.egs_fingerprint" in p.stderr
    assert (teacher["exp"] / "config.yaml").read_bytes() == before


def test_bad_config_creates_nothing(teacher, tmp_path, capsys, monkeypatch):
    from steps.train import main

    monkeypatch.setenv("GFA_MALLOC", "default")  # in this process: leave the test runner's malloc alone
    for bad, msg in (
        ("data.feat_type=fbank", "egs of 'spect' features but data.feat_type is 'fbank'"),
        ("train.crop_max=500", "exceeds the egs length 120"),
    ):
        assert main(train(teacher["cfg"], teacher["data"] / "egs" / "spect", tmp_path / "x", bad)[3:]) == 1
        err = capsys.readouterr().err
        assert msg in err, (bad, err)
        assert not (tmp_path / "x").exists(), bad


def _clean_env():
    """Only the project's Python environment: its bin/ first on PATH, no PYTHONPATH, no path.sh."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GFA_ROOT")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def test_seed_commands_run_without_path_sh(teacher, tmp_path):
    data, exp = teacher["data"], tmp_path / "t"
    shutil.copytree(teacher["exp"], exp)
    cmds = [
        ["python", "datasets/make_trials.py", "60", str(data / "train"), "--out", str(tmp_path / "trials")],
        [
            "python",
            "datasets/split_trials_dir.py",
            "--data-dir",
            str(data / "train"),
            "--out-dir",
            str(tmp_path / "tdir"),
            "--trials",
            str(tmp_path / "trials"),
        ],
        ["python", "gradients/cam_extract.py", "--exp-dir", str(exp), "--method", "gradient"],
        ["python", "gradients/visual_gradient.py", "--exp-dir", str(exp), "--method", "gradient"],
    ]
    for cmd in cmds:
        p = subprocess.run(cmd, cwd=ROOT, env=_clean_env(), capture_output=True, text=True)
        assert p.returncode == 0, (cmd, p.stderr[-1500:])
    assert (tmp_path / "tdir" / "feats.ark").exists()
    assert np.load(exp / "gradients" / "gradient" / "freq_weights.npy").shape == (161,)


def test_student_keeps_its_prior_after_the_teacher_is_deleted(teacher, tmp_path):
    t = tmp_path / "teacher"
    shutil.copytree(teacher["exp"], t)
    p = run(
        f"python gradients/cam_extract.py --exp-dir {t} --method gradient && "
        f"python gradients/visual_gradient.py --exp-dir {t} --method gradient"
    )
    assert p.returncode == 0, p.stderr
    weights = t / "gradients" / "gradient" / "freq_weights.npy"
    student = tmp_path / "student"
    p = run(train(teacher["student"], teacher["data"] / "egs" / "spect", student, f"model.attention.prior={weights}"))
    assert p.returncode == 0, p.stderr
    saved = yaml.safe_load((student / "config.yaml").read_text())
    rec = saved["inputs"]["prior"]
    assert rec["source"] == str(weights) and rec["file"] == "prior.npy"
    assert np.array_equal(np.load(student / "prior.npy"), np.load(weights))
    shutil.rmtree(t)
    p = run(
        f"python -m steps.extract_embeddings --exp-dir {student} --data-dir {teacher['data']}/test && "
        f"python gradients/cam_extract.py --exp-dir {student} --method gradient"
    )
    assert p.returncode == 0, p.stderr
    assert (student / "embeddings" / "test" / "xvector.scp").exists()
    assert (student / "gradients" / "gradient" / "maps.scp").exists()
    np.save(student / "prior.npy", np.ones(161))  # a changed prior is refused, not used
    p = run(f"python -m steps.extract_embeddings --exp-dir {student} --data-dir {teacher['data']}/test")
    assert p.returncode == 1 and "prior.npy: missing or changed since training" in p.stderr


def test_embedding_features_of_another_conf_are_refused(teacher, tmp_path):
    test = tmp_path / "test"
    shutil.copytree(teacher["data"] / "test", test)
    (test / "conf" / "feats.conf").write_text("--frame-length=25\n")
    p = run(f"python -m steps.extract_embeddings --exp-dir {teacher['exp']} --data-dir {test}")
    assert p.returncode == 1 and "differs from" in p.stderr and "feats.conf" in p.stderr
    shutil.rmtree(test / "conf")  # a foreign data dir with no record: a warning, not an error
    p = run(f"python -m steps.extract_embeddings --exp-dir {teacher['exp']} --data-dir {test} --set-name foreign")
    assert p.returncode == 0 and "warning: cannot check" in p.stderr


def test_cam_extract_options_come_from_the_registry(teacher, tmp_path):
    exp = tmp_path / "t"
    shutil.copytree(teacher["exp"], exp)
    p = run(f"python gradients/cam_extract.py --exp-dir {exp} --method grad_cam --steps 8")
    assert p.returncode == 1 and "--steps does not apply to grad_cam; its options: --layer" in p.stderr
    p = run(f"python gradients/cam_extract.py --exp-dir {exp} --method occlusion --window 16 --stride 8")
    assert p.returncode == 0, p.stderr
    info = (exp / "gradients" / "occlusion" / "extract.json").read_text()
    assert '"window": 16' in info and '"fill": "time_mean"' in info


LIBRARIES = ("core", "datasets", "models", "losses", "evaluation", "gradients", "training")


def test_layers():
    """steps/ (the entry points) is imported by no package: the libraries, recipe/ (what the entry points
    share) and gfa/ (the API). The libraries import neither recipe/ nor gfa/ (the original GFA code's
    command paths run steps/ as scripts)."""
    above = {pkg: {"steps"} for pkg in ("recipe", "gfa")} | {pkg: {"steps", "recipe", "gfa"} for pkg in LIBRARIES}
    offenders = []
    for pkg, banned in above.items():
        for f in sorted((ROOT / pkg).rglob("*.py")):
            offenders += [f"{f.relative_to(ROOT)}: {n}" for n in imported_modules(f) if n.split(".")[0] in banned]
    assert offenders == []


def test_no_module_imports_an_entry_point():
    """An entry point (a steps/ module with main()) is imported by none of the project's modules: what one
    tool lends another lives in a library. A library file that runs steps/ through runpy is a launcher
    for the original GFA code's command paths: nothing but its __main__ block."""
    entry = {p.stem for p in (ROOT / "steps").glob("*.py") if "def main(" in p.read_text()}
    offenders = []
    for f in sorted(ROOT.glob("*/*.py")):
        if f.parts[-2] in ("tests", "bench", ".venv") or not (f.parent / "__init__.py").exists():
            continue
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("steps."):
                if node.module.split(".")[1] in entry and f.stem != node.module.split(".")[1]:
                    offenders.append(f"{f.relative_to(ROOT)} imports {node.module}")
        if "runpy.run_module(" in f.read_text() and f.parts[-2] in LIBRARIES:
            if any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in tree.body):
                offenders.append(f"{f.relative_to(ROOT)} runs steps/ through runpy and defines code")
    assert not offenders, offenders


def _defined(module) -> set[str]:
    """Names a module defines itself (def, class, assignment), not the ones it imports."""
    out = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            out |= {t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    return out


def test_no_arrow_between_domain_packages_carries_plumbing():
    """A domain package imports from another only what that one defines (a model, a loss, a data reader),
    never a name it re-exports from core/ (the plumbing is imported from core/ itself)."""
    domain = ("datasets", "models", "losses", "evaluation", "gradients", "training")
    offenders = []
    for pkg in domain:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text())):
                mod = getattr(node, "module", None) or ""
                if not isinstance(node, ast.ImportFrom) or mod.split(".")[0] not in domain or mod.split(".")[0] == pkg:
                    continue
                src = ROOT / (mod.replace(".", "/") + ".py")
                src = src if src.exists() else ROOT / mod.replace(".", "/") / "__init__.py"
                offenders += [f"{f.relative_to(ROOT)}: {n.name} from {mod}" for n in node.names if n.name not in _defined(src)]
    assert not offenders, offenders


def test_core_imports_nothing_of_the_project():
    """core/ is the neutral plumbing every package may import: it imports none of them."""
    project = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"core"}
    for f in sorted((ROOT / "core").rglob("*.py")):
        assert not [n for n in imported_modules(f) if n.split(".")[0] in project], f


def imported_modules(path) -> list[str]:
    """Every module a Python file imports (``import a.b`` -> a.b, ``from a.b import c`` -> a.b)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_writes_keep_the_umask_mode(teacher, tmp_path):
    from core.atomic import atomic_write_text
    from training.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x\n")
        save_checkpoint(tmp_path / "c.pt", {"x": 1})
        os.chmod(tmp_path / "a.txt", 0o640)  # a replaced file keeps its own mode
        atomic_write_text(tmp_path / "a.txt", "y\n")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "c.pt") == 0o644 and mode(tmp_path / "a.txt") == 0o640
    for f in ("config.yaml", "spk2label", "checkpoints/last.pt", "log/train.log"):  # trained under umask 022
        assert mode(teacher["exp"] / f) == 0o644, f
    d = tmp_path / "d"
    shutil.copytree(teacher["data"] / "test", d)
    os.chmod(d / "wav.scp", 0o644)
    (d / "wav.scp").write_text((d / "wav.scp").read_text() + "\n")  # a blank line for fix_data_dir to drop
    p = run(f"umask 022 && utils/fix_data_dir.sh {d}")
    assert p.returncode == 0, p.stderr
    assert mode(d / "wav.scp") == 0o644 and mode(d / "feats.scp") == 0o644

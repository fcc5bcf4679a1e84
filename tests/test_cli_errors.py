"""One CLI tail: every user-facing error derives from core.errors.GfaError, every entry point's tail
catches GfaError and OSError only (core.errors.CLI_ERRORS) and prints '<tool>: error: <message>';
any other exception is a bug and keeps its traceback."""

import ast
import importlib
from pathlib import Path

import pytest

from core.errors import CLI_ERRORS, GfaError, NotFoundError, UsageError

ROOT = Path(__file__).resolve().parents[1]
ERRORS = {
    "models.registry": "ConfigError",
    "datasets.kaldi_files": "DataDirError",
    "datasets.ark_read": "ArkReadError",
    "training.checkpoint": "CheckpointError",
    "datasets.audio": "AudioError",
    "datasets.feat_opts": "OptionError",
    "datasets.augment": "AugmentError",
    "gradients.cams": "NoFrequencyAxisError",
    "core.lock": "LockedError",
    "training.trainer": "NaNLossError",
}


@pytest.mark.parametrize("module,name", ERRORS.items())
def test_every_project_error_derives_from_the_base(module, name):
    assert issubclass(getattr(importlib.import_module(module), name), GfaError)


def test_no_library_raises_a_bare_builtin_error():
    """Libraries and entry points raise the project's errors, never a bare ValueError/KeyError/FloatingPointError."""
    offenders = []
    for pkg in ("core", "datasets", "models", "losses", "evaluation", "gradients", "training", "recipe", "gfa", "steps"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text())):
                if (
                    isinstance(node, ast.Raise)
                    and isinstance(node.exc, ast.Call)
                    and getattr(node.exc.func, "id", "") in ("ValueError", "KeyError", "FloatingPointError")
                ):
                    offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def _tails(tree: ast.Module):
    """(handler, its caught names) for every except clause that calls fail()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and any(
            isinstance(n, ast.Call) and getattr(n.func, "id", "") == "fail" for n in ast.walk(node)
        ):
            yield node, ast.unparse(node.type)


def test_every_cli_tail_catches_the_base_and_oserror_only():
    tails, wrong = 0, []
    for f in sorted((ROOT / "steps").glob("*.py")):
        tree = ast.parse(f.read_text())
        for handler, caught in _tails(tree):
            tails += 1
            if caught != "CLI_ERRORS":
                wrong.append(f"{f.name}:{handler.lineno} catches {caught}")
        for node in ast.walk(tree):  # no tail prints its own 'error:' line from a caught exception
            if isinstance(node, ast.ExceptHandler) and "error: {e}" in ast.unparse(node):
                wrong.append(f"{f.name}:{node.lineno} prints its own error line")
    assert tails >= 20 and not wrong, wrong
    assert CLI_ERRORS == (GfaError, OSError)


def test_a_user_error_exits_1_and_a_bug_keeps_its_traceback(monkeypatch, capsys, tmp_path):
    from steps import model_info

    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: ResCNN}\n")
    monkeypatch.setattr(model_info, "load_config", lambda *a: (_ for _ in ()).throw(UsageError("bad value 7")))
    assert model_info.main(["--config", str(cfg)]) == 1
    assert capsys.readouterr().err == "model_info: error: bad value 7\n"
    monkeypatch.setattr(model_info, "load_config", lambda *a: (_ for _ in ()).throw(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        model_info.main(["--config", str(cfg)])


def test_not_found_reads_as_a_sentence():
    assert str(NotFoundError("2 trial utterance(s) have no embedding")) == "2 trial utterance(s) have no embedding"


def test_help_shows_every_default_that_says_something():
    """core.cli.HelpFormatter (the standard library's classes): 0 is shown; None, an off flag, '' and [] are not."""
    import argparse

    from core.cli import HelpFormatter

    p = argparse.ArgumentParser(description="line one\n  kept as written", formatter_class=HelpFormatter)
    p.add_argument("--zero", type=int, default=0)
    p.add_argument("--five", type=int, default=5, help="a count")
    p.add_argument("--empty", default="")
    p.add_argument("--none", default=None, help="unset")
    p.add_argument("--flag", action="store_true")
    p.add_argument("--many", nargs="+", default=[])
    text = " ".join(p.format_help().split())
    assert "--zero ZERO (default: 0)" in text and "--five FIVE a count (default: 5)" in text
    assert "--none NONE unset --flag" in text and "(default: )" not in text and "default: None" not in text
    assert "default: False" not in text and "default: []" not in text and "line one\n  kept as written" in p.format_help()

"""Every command shown in README.md and docs/*.md (code blocks and inline `...` spans) names a program
that exists and only options that program takes, so that the docs cannot drift from the code. A stage
script's options are its variables (utils/parse_options.sh); a Python tool's are the '--x' literals of its
source, or, for options built at run time, what its --help prints."""

import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = ("", "bash", "sh", "shell", "console")
PROGRAM = re.compile(r"(\./|python|local/|steps/|utils/|bash )")


def shown_commands(text: str) -> list[str]:
    """Command lines of the shell code blocks (continuations joined) and inline spans that start a command."""
    out = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang in SHELLS:
            out += [ln.strip() for ln in body.replace("\\\n", " ").splitlines() if ln.strip() and not ln.strip().startswith("#")]
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return out + [s.replace("\n", " ") for s in spans if PROGRAM.match(s)]


def simple_commands(line: str) -> list[list[str]]:
    """Words of each simple command of a line (split at ; && || |), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote in a syntax summary: check its first command only
        words = line.split("#")[0].split()
    cmds, cur = [], []
    for w in words:
        if set(w) <= set(";&|") and w:
            cmds, cur = cmds + [cur], []
        else:
            cur.append(w)
    return [c for c in cmds + [cur] if c]


def options(words: list[str]) -> list[str]:
    """The --long options of a command, with the [ ] | of syntax summaries taken off."""
    out = []
    for w in words:
        for part in w.strip("[]").split("|"):
            part = part.strip("[]")
            if re.fullmatch(r"--[a-z][a-z0-9-]*(=.*)?", part):
                out.append(part.split("=")[0])
    return out


@cache
def help_text(argv: tuple[str, ...]) -> str:
    p = subprocess.run([sys.executable, *argv, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return p.stdout + p.stderr


def check_python(words: list[str]) -> list[str]:
    """python -m M ... or python path.py ...: the program exists and takes every option shown."""
    if words[1] == "-m":
        module = words[2]
        if module in ("venv", "pytest", "pip") or "<" in module:
            return []
        src = ROOT / (module.replace(".", "/") + ".py")
        argv = ("-m", module)
    else:
        if "<" in words[1] or not words[1].endswith(".py"):
            return []
        src, argv = ROOT / words[1], (words[1],)
    if not src.exists():
        return [f"{' '.join(words[:3])}: no {src.relative_to(ROOT)}"]
    text = src.read_text()
    missing = [o for o in options(words) if f'"{o}"' not in text and f"'{o}'" not in text]
    if missing:  # options built at run time, or a launcher of the original GFA code's paths: ask --help
        shown = help_text(argv)
        missing = [o for o in missing if o not in shown]
    return [f"{' '.join(words[:3])}: no option {o}" for o in missing]


def check_script(words: list[str]) -> list[str]:
    """./x.sh, local/x.sh, steps/x.sh, utils/x: the file exists; a parse_options.sh script has every option."""
    name = words[0]
    if any(c in name for c in "*<") or name.endswith("/"):
        return []
    path = ROOT / name.removeprefix("./")
    if not path.is_file():
        return [f"{name}: no such file"]
    text = path.read_text()
    if "parse_options.sh" not in text:
        return []
    names = set(re.findall(r"^([a-z_][a-z0-9_]*)=", text, re.M))
    return [f"{name}: no option {o}" for o in options(words[1:]) if o[2:].replace("-", "_") not in names]


def check(words: list[str]) -> list[str]:
    if words[0] in ("python", "python3") and len(words) > 1:
        return check_python(words)
    if words[0] == "bash" and len(words) > 1 and words[1].endswith(".sh"):
        return check_script(words[1:])
    if re.match(r"(\./|local/|steps/|utils/)", words[0]):
        return check_script(words)
    return []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_shown_command_exists_with_its_options(doc):
    problems = []
    for line in shown_commands(doc.read_text()):
        for words in simple_commands(line):
            problems += [f"{doc.name}: {p}   <- {line[:100]}" for p in check(words)]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_wrong_option_and_a_missing_program():
    assert check(["./c_train.sh", "--stage", "2", "--asnorm", "true"]) == []
    assert check(["./c_train.sh", "--stagee", "2"]) == ["./c_train.sh: no option --stagee"]
    assert check(["python", "-m", "steps.score", "--exp-dir", "E", "--top-k", "3"]) == []
    assert check(["python", "-m", "steps.score", "--topk", "3"]) == ["python -m steps.score: no option --topk"]
    assert check(["python", "-m", "steps.nothing"]) == ["python -m steps.nothing: no steps/nothing.py"]
    assert check(["python", "gradients/cam_extract.py", "--steps", "8", "--list-methods"]) == []
    assert simple_commands("a --x 1 && b 'c d' | e  # f") == [["a", "--x", "1"], ["b", "c d"], ["e"]]

"""Shared logic of utils/run.pl and utils/slurm.pl (Kaldi's job-runner call form).

    run.pl [options] [JOB=1:N] <log-file> <command...>

``JOB`` (any name) is replaced by the job index in the log name and in the command. Each job's
stdout and stderr go to its own log with Kaldi's header and trailer lines. Every word of the command
reaches the shell quoted (a path with ``;``, ``$(...)``, backticks, quotes or blanks stays one
literal word), except a word that is a shell operator on its own (``|``, ``>``, ``2>&1``, ``&&``, ...),
so the deliberate ``cmd a \\| cmd b`` is still a pipe.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# options that take a value; the queue options are accepted by run.pl too, and ignored there
VALUE_OPTIONS = {"--max-jobs-run", "-tc", "--mem", "--num-threads", "--gpu", "--time", "--config", "--partition"}
VALUE_OPTIONS |= {"--account", "--qos"}


@dataclass
class Call:
    options: dict[str, str] = field(default_factory=dict)
    var: str | None = None
    start: int = 1
    end: int = 1
    log: str = ""
    words: list[str] = field(default_factory=list)

    def jobs(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    def log_for(self, job: int) -> str:
        return self.log.replace(self.var, str(job)) if self.var else self.log

    def command_for(self, job: int) -> str:
        return join_words(self.words, self.var, str(job))

    def log_pattern(self) -> str:
        return self.log.replace(self.var, "*") if self.var else self.log


OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>>", "&>", "2>&1", "1>&2", ">&2", "|&"})


def join_words(words: list[str], var: str | None = None, value: str = "") -> str:
    """The command line of ``words``: each quoted (shlex.quote) unless it is a shell operator. With
    ``var``, its occurrences in a word become ``value`` outside the quotes (a job number, or a shell
    expansion such as ``"${JOB}"``)."""
    out = []
    for w in words:
        if w in OPERATORS:
            out.append(w)
        elif var and var in w:
            out.append(value.join(shlex.quote(part) if part else "" for part in w.split(var)) or "''")
        else:
            out.append(shlex.quote(w))
    return " ".join(out)


def usage_error(prog: str, msg: str) -> None:
    print(
        f"{prog}: {msg}\nusage: {prog} [options] [JOB=1:N] <log-file> <command...>\noptions: {' '.join(sorted(VALUE_OPTIONS))}",
        file=sys.stderr,
    )
    sys.exit(1)


def parse_call(prog: str, argv: list[str]) -> Call:
    call, i = Call(), 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] not in VALUE_OPTIONS or i + 1 >= len(argv):
            usage_error(prog, f"unknown option or missing value: {argv[i]}")
        call.options[argv[i].lstrip("-")] = argv[i + 1]
        i += 2
    if i < len(argv):
        m = re.fullmatch(r"([A-Za-z_]\w*)=(\d+)(?::(\d+))?", argv[i])
        if m:
            call.var, call.start = m.group(1), int(m.group(2))
            call.end = int(m.group(3)) if m.group(3) else call.start
            if call.end < call.start:
                usage_error(prog, f"invalid job range {argv[i]}")
            i += 1
    if len(argv) - i < 2:
        usage_error(prog, "need a log file and a command")
    call.log, call.words = argv[i], argv[i + 1 :]
    if "tc" in call.options:
        call.options["max-jobs-run"] = call.options.pop("tc")
    return call


def log_header(cmd: str) -> str:
    return f"# {cmd} \n# Started at {time.strftime('%a %b %d %H:%M:%S %Z %Y')}\n#\n"


def log_trailer(code: int, elapsed: float) -> str:
    return (
        f"# Accounting: time={int(elapsed)} threads=1\n"
        f"# Ended (code {code}) at {time.strftime('%a %b %d %H:%M:%S %Z %Y')}, "
        f"elapsed time {int(elapsed)} seconds\n"
    )


def start_local_job(call: Call, job: int) -> tuple[subprocess.Popen, float]:
    log = Path(call.log_for(job))
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = call.command_for(job)
    with open(log, "w") as f:
        f.write(log_header(cmd))
    script = f"( {cmd} ) >>{shlex.quote(str(log))} 2>&1"
    return subprocess.Popen(["bash", "-c", script]), time.time()


def finish_log(path: str, code: int, elapsed: float) -> None:
    with open(path, "a") as f:
        f.write(log_trailer(code, elapsed))


def first_error(log: str) -> str:
    """The first line of a failed job's log that states an error (``...: error: ...``, ``XError: ...``),
    else the first that mentions one, else its last line of output."""
    try:
        lines = [ln.strip() for ln in Path(log).read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError:
        return "(no log)"
    stated = [ln for ln in lines if re.search(r"(^|\s)error:|^\w*(Error|Exception)\b", ln, re.I)]
    mentioned = [ln for ln in lines if re.search(r"error|no such|cannot|failed", ln, re.I)]
    return (stated or mentioned or lines[-1:] or ["(empty log)"])[0][:300]


def report(prog: str, call: Call, failed: list[int]) -> int:
    if not failed:
        return 0
    for j in failed[:3]:
        print(f"{prog}: {call.log_for(j)}: {first_error(call.log_for(j))}", file=sys.stderr)
    logs = " ".join(call.log_for(j) for j in failed)
    if len(call.jobs()) == 1:
        print(f"{prog}: job failed, log is in {logs}", file=sys.stderr)
    else:
        print(
            f"{prog}: {len(failed)} / {len(call.jobs())} failed, log is in {call.log_pattern()} (failed: {logs})", file=sys.stderr
        )
    return 1

#!/usr/bin/env python3
"""slurm.pl: run Kaldi-style jobs on Slurm through sbatch (same call form as run.pl).

  utils/slurm.pl [--mem 4G] [--num-threads N] [--gpu N] [--time T] [--partition P] [--account A]
                 [--qos Q] [--max-jobs-run N | -tc N] [JOB=1:N] <log-file> <command...>

Submits one array job (sbatch --array=START-END[%N]); each task writes its log like run.pl and a
status file under <log-dir>/q/. Waits until every task has finished (polls every
$SLURM_PL_POLL seconds, default 10), then exits 1 naming the failed jobs' logs. Extra sbatch
options may be given in $SLURM_PL_OPTS.
"""
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kaldi_jobs import join_words, parse_call, report, usage_error  # noqa: E402

SBATCH_FLAGS = {"mem": "--mem={}", "num-threads": "--cpus-per-task={}", "gpu": "--gres=gpu:{}",
                "time": "--time={}", "partition": "--partition={}", "account": "--account={}", "qos": "--qos={}"}


def write_script(call, qdir: Path, name: str) -> Path:
    var = call.var or "JOB"
    text = join_words(call.words)
    # the task id is substituted at run time, outside the quotes of every other character
    cmd = join_words(call.words, call.var, '"${' + var + '}"')
    log = join_words([call.log], call.var, '"${' + var + '}"')
    script = qdir / f"{name}.sh"
    script.write_text(f"""#!/bin/bash
cd {shlex.quote(os.getcwd())}
{var}=${{SLURM_ARRAY_TASK_ID:-{call.start}}}
log={log}
mkdir -p "$(dirname "$log")"
text={shlex.quote(text)}
printf '# %s \n# Started at %s\n#\n' "${{text//{var}/${var}}}" "$(date)" > "$log"
printf '# running on %s as slurm job %s\\n' "$(hostname)" "${{SLURM_JOB_ID:-?}}" >> "$log"
t0=$(date +%s)
( {cmd} ) >> "$log" 2>&1
code=$?
t1=$(date +%s)
echo "# Accounting: time=$((t1 - t0)) threads=${{SLURM_CPUS_PER_TASK:-1}}" >> "$log"
echo "# Ended (code $code) at $(date), elapsed time $((t1 - t0)) seconds" >> "$log"
echo $code > {shlex.quote(str(qdir))}/{name}.status.${{{var}}}
exit $code
""")
    return script


def submit(call, script: Path, qdir: Path, name: str) -> str:
    array = f"{call.start}-{call.end}" + (f"%{call.options['max-jobs-run']}" if "max-jobs-run" in call.options else "")
    args = ["sbatch", "--parsable", f"--array={array}", f"--job-name={name}",
            f"--output={qdir}/{name}-%a.out", "--export=ALL"]
    args += [SBATCH_FLAGS[k].format(v) for k, v in call.options.items() if k in SBATCH_FLAGS]
    args += shlex.split(os.environ.get("SLURM_PL_OPTS", "")) + [str(script)]
    proc = subprocess.run(args, capture_output=True, text=True)
    m = re.search(r"(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        print(f"slurm.pl: sbatch failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}",
              file=sys.stderr)
        sys.exit(1)
    return m.group(1)


def still_queued(job_id: str) -> bool:
    """True unless squeue says the job is gone (no squeue: assume queued)."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return out.returncode == 0 and bool(out.stdout.strip())


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 1
    call = parse_call("slurm.pl", argv)
    if "max-jobs-run" in call.options and not call.options["max-jobs-run"].isdigit():
        usage_error("slurm.pl", f"invalid --max-jobs-run {call.options['max-jobs-run']!r}")
    qdir = Path(call.log).parent / "q"
    qdir.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"\W", "_", Path(call.log).name.replace(call.var or "\0", "JOB"))
    for old in qdir.glob(f"{name}.status.*"):
        old.unlink()
    job_id = submit(call, write_script(call, qdir, name), qdir, name)
    poll, gone_since = float(os.environ.get("SLURM_PL_POLL", "10")), None
    while True:
        status = {j: qdir / f"{name}.status.{j}" for j in call.jobs()}
        if all(p.exists() for p in status.values()):
            break
        if not still_queued(job_id):
            gone_since = gone_since or time.time()
            if time.time() - gone_since > max(3 * poll, 60):  # allow for NFS delays
                missing = [j for j, p in status.items() if not p.exists()]
                print(f"slurm.pl: job {job_id} left the queue without finishing tasks {missing}; "
                      f"see {qdir}/{name}-*.out", file=sys.stderr)
                return report("slurm.pl", call, missing)
        time.sleep(poll)
    failed = [j for j, p in status.items() if p.read_text().strip() != "0"]
    return report("slurm.pl", call, failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

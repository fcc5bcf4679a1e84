#!/usr/bin/env python3
"""run.pl: run Kaldi-style jobs as local processes (Python stand-in for Kaldi's run.pl).

  utils/run.pl [--max-jobs-run N | -tc N] [JOB=1:N] <log-file> <command...>

Jobs run in parallel (at most N at a time), each with its own log; exit status 1 names the
failed jobs' logs. Queue options (--mem, --num-threads, --gpu, ...) are accepted and ignored.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kaldi_jobs import finish_log, parse_call, report, start_local_job, usage_error  # noqa: E402


def main(argv):
    prog = "run.pl"
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 1
    call = parse_call(prog, argv)
    try:
        limit = int(call.options.get("max-jobs-run", 32))
        assert limit >= 1
    except (ValueError, AssertionError):
        usage_error(prog, f"invalid --max-jobs-run {call.options.get('max-jobs-run')!r}")
    pending, running, failed = call.jobs(), {}, []
    while pending or running:
        while pending and len(running) < limit:
            job = pending.pop(0)
            running[job] = start_local_job(call, job)
        time.sleep(0.02)
        for job, (proc, t0) in list(running.items()):
            code = proc.poll()
            if code is not None:
                finish_log(call.log_for(job), code, time.time() - t0)
                if code != 0:
                    failed.append(job)
                del running[job]
    return report(prog, call, sorted(failed))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Kaldi shell utilities: parse_options.sh, run.pl, slurm.pl (fake sbatch), split_data.sh."""

import stat
import textwrap

import pytest

from conftest import FAKE_SBATCH, ROOT, run, write
from datasets.kaldi_files import DataDirError, read_table
from datasets.split import split_data


@pytest.fixture
def script(tmp_path):
    s = write(
        tmp_path / "s.sh",
        textwrap.dedent(f"""\
        #!/usr/bin/env bash
        set -euo pipefail
        stage=0
        stop_stage=100
        use_gpu=false
        cmd=run.pl
        config=conf/demo.yaml
        help_message="Usage: s.sh [options] <dir>"
        . {ROOT}/utils/parse_options.sh
        echo "stage=$stage stop_stage=$stop_stage use_gpu=$use_gpu config=$config args=$*"
        """),
    )
    return s


def test_parse_options_sets_variables(script):
    p = run(["bash", str(script), "--stop-stage", "3", "--stage", "1", "--use_gpu", "true", "x", "--y"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "stage=1 stop_stage=3 use_gpu=true config=conf/demo.yaml args=x --y"


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--no-such", "1"], "invalid option --no-such"),
        (["--stage=3"], "must be of the form --name value"),
        (["--use-gpu", "yes"], 'expected "true" or "false"'),
        (["--cmd", ""], "empty argument to --cmd"),
        (["--stage"], "needs a value"),
    ],
)
def test_parse_options_errors(script, args, msg):
    p = run(["bash", str(script), *args])
    assert p.returncode != 0
    assert msg in p.stderr


def test_parse_options_help_lists_variables(script):
    p = run(["bash", str(script), "--help"])
    assert p.returncode == 0
    assert "Usage: s.sh" in p.stdout
    assert "--stop-stage" in p.stdout and "100" in p.stdout and "--use-gpu" in p.stdout


def test_parse_options_never_sources_config(script, tmp_path):
    marker = tmp_path / "sourced"
    cfg = write(tmp_path / "exp.yaml", f"model: x\n$(touch {marker})\ntouch {marker}\n")
    p = run(["bash", str(script), "--config", str(cfg)])
    assert p.returncode == 0, p.stderr
    assert f"config={cfg}" in p.stdout
    assert not marker.exists()


def test_run_pl_parallel_logs_and_pipes(tmp_path):
    # job 1 waits for a file that job 2 creates: only passes if the jobs really run concurrently
    p = run(
        [
            "utils/run.pl",
            "JOB=1:3",
            f"{tmp_path}/log/x.JOB.log",
            "bash",
            "-c",
            f"touch {tmp_path}/flag.JOB; for i in $(seq 100); do [ -f {tmp_path}/flag.2 ] && break; sleep 0.05; done; [ -f {tmp_path}/flag.2 ]",
            "&&",
            "echo",
            "hello",
            "JOB",
            "|",
            "tr",
            "a-z",
            "A-Z",
        ]
    )
    assert p.returncode == 0, p.stderr
    for j in (1, 2, 3):
        log = (tmp_path / "log" / f"x.{j}.log").read_text()
        assert f"HELLO {j}" in log
        assert log.startswith("# bash -c") and "# Ended (code 0)" in log and "# Accounting: time=" in log


def test_run_pl_max_jobs_run_serialises(tmp_path):
    p = run(
        [
            "utils/run.pl",
            "-tc",
            "1",
            "JOB=1:2",
            f"{tmp_path}/x.JOB.log",
            "bash",
            "-c",
            f"touch {tmp_path}/f.JOB; sleep 0.2; test JOB = 2 || ! test -f {tmp_path}/f.2",
        ]
    )
    assert p.returncode == 0, p.stderr + (tmp_path / "x.1.log").read_text()


def test_run_pl_failure_names_log(tmp_path):
    p = run(["utils/run.pl", "JOB=1:3", f"{tmp_path}/y.JOB.log", "test", "JOB", "-ne", "2"])
    assert p.returncode == 1
    assert f"1 / 3 failed, log is in {tmp_path}/y.*.log" in p.stderr
    assert f"{tmp_path}/y.2.log" in p.stderr
    assert "# Ended (code 1)" in (tmp_path / "y.2.log").read_text()
    p = run(["utils/run.pl", f"{tmp_path}/z.log", "false"])
    assert p.returncode == 1 and f"job failed, log is in {tmp_path}/z.log" in p.stderr


def test_run_pl_usage_errors(tmp_path):
    assert run(["utils/run.pl", "JOB=3:1", f"{tmp_path}/x.log", "true"]).returncode == 1
    assert run(["utils/run.pl", "--bogus", "1", f"{tmp_path}/x.log", "true"]).returncode == 1
    assert run(["utils/run.pl", "--max-jobs-run", "0", f"{tmp_path}/x.log", "true"]).returncode == 1


@pytest.fixture
def fake_slurm(tmp_path):
    bindir = tmp_path / "bin"
    sb = write(bindir / "sbatch", FAKE_SBATCH)
    sb.chmod(sb.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bindir}:" + __import__("os").environ["PATH"], "SLURM_PL_POLL": "0.05"}, bindir


def test_slurm_pl_submits_array_and_collects(tmp_path, fake_slurm):
    env, bindir = fake_slurm
    p = run(
        [
            "utils/slurm.pl",
            "--mem",
            "4G",
            "--num-threads",
            "2",
            "--gpu",
            "1",
            "-tc",
            "2",
            "JOB=1:3",
            f"{tmp_path}/log/x.JOB.log",
            "echo",
            "task",
            "JOB",
            "|",
            "tr",
            "a-z",
            "A-Z",
        ],
        env=env,
    )
    assert p.returncode == 0, p.stderr
    call = (bindir / "calls").read_text()
    for flag in ("--array=1-3%2", "--mem=4G", "--cpus-per-task=2", "--gres=gpu:1"):
        assert flag in call
    for j in (1, 2, 3):
        log = (tmp_path / "log" / f"x.{j}.log").read_text()
        assert f"TASK {j}" in log and f"# echo task {j}" in log and "# Ended (code 0)" in log


def test_slurm_pl_failure_names_log(tmp_path, fake_slurm):
    env, _ = fake_slurm
    p = run(["utils/slurm.pl", "JOB=1:3", f"{tmp_path}/y.JOB.log", "test", "JOB", "-ne", "3"], env=env)
    assert p.returncode == 1
    assert f"{tmp_path}/y.3.log" in p.stderr and "1 / 3 failed" in p.stderr


def test_slurm_pl_sbatch_failure(tmp_path, fake_slurm):
    env, bindir = fake_slurm
    write(bindir / "sbatch", "#!/bin/bash\necho 'sbatch: error: invalid partition' >&2\nexit 1\n").chmod(0o755)
    p = run(["utils/slurm.pl", f"{tmp_path}/x.log", "true"], env=env)
    assert p.returncode == 1 and "invalid partition" in p.stderr


def _dir(tmp_path, spk_utts):
    d = tmp_path / "d"
    rows = [(f"{s}-{i}", s) for s, n in spk_utts for i in range(n)]
    write(d / "utt2spk", "".join(f"{u} {s}\n" for u, s in rows))
    write(d / "spk2utt", "".join(f"{s} {' '.join(u for u, t in rows if t == s)}\n" for s, _ in spk_utts))
    write(d / "wav.scp", "".join(f"{u} /x/{u}.wav\n" for u, _ in rows))
    write(d / "utt2num_frames", "".join(f"{u} 10\n" for u, _ in rows))
    return d


def test_split_by_speaker_keeps_speakers_whole(tmp_path):
    d = _dir(tmp_path, [("a", 5), ("b", 1), ("c", 3), ("d", 3), ("e", 4)])
    p = run(["utils/split_data.sh", str(d), "3"])
    assert p.returncode == 0, p.stderr
    seen = []
    for j in (1, 2, 3):
        part = d / "split3" / str(j)
        u2s = {e.key: e.fields[0] for e in read_table(part / "utt2spk", 1, 1)}
        assert set(u2s) == {e.key for e in read_table(part / "wav.scp", 1, 1)}
        assert set(u2s) == {e.key for e in read_table(part / "utt2num_frames", 1, 1)}
        seen += list(u2s.values())
        assert u2s
    assert len(seen) == 16
    spk_parts = {}
    for j in (1, 2, 3):
        for e in read_table(d / "split3" / str(j) / "spk2utt", 1, None):
            spk_parts.setdefault(e.key, []).append(j)
    assert all(len(v) == 1 for v in spk_parts.values())


def test_split_per_utt_and_errors(tmp_path):
    d = _dir(tmp_path, [("a", 5), ("b", 2)])
    parts = split_data(d, 7, per_utt=True)
    assert [len(read_table(p / "utt2spk", 1, 1)) for p in parts] == [1] * 7
    with pytest.raises(DataDirError, match="only 2 speakers"):
        split_data(d, 3)
    for bad in ("0", "-2", "two", "1.5"):
        p = run(["utils/split_data.sh", str(d), bad])
        assert p.returncode == 1 and f"invalid --nj {bad!r}" in p.stderr


def test_gfa_threads_divides_the_cores_over_the_jobs_and_refuses_bad_counts():
    """path.sh gfa_threads: --threads N, else cores / jobs side by side (at least 1), exported for torch
    and BLAS; an OMP_NUM_THREADS already set does not change the core count it divides."""
    probe = (
        f". {ROOT}/path.sh; export OMP_NUM_THREADS=1; gfa_threads 1 ''; a=$OMP_NUM_THREADS; "
        "gfa_threads 64 ''; b=$OMP_NUM_THREADS; gfa_threads 2 5; echo \"$a $b $OMP_NUM_THREADS $MKL_NUM_THREADS\"; "
        'echo "$GFA_THREADS_NOTE"; env -u OMP_NUM_THREADS nproc'
    )
    p = run(["bash", "-c", probe])
    assert p.returncode == 0, p.stderr
    got, note, cores = p.stdout.splitlines()
    assert got.split() == [cores, "1", "5", "5"] and note == f"5 thread(s) per job: 2 job(s) side by side on {cores} core(s)"
    for bad in ("0", "two", "-1", "1.5"):
        p = run(["bash", "-c", f". {ROOT}/path.sh; gfa_threads 1 '{bad}'; echo ran"])
        assert p.returncode == 1 and f"--threads expects a positive integer, got '{bad}'" in p.stderr and "ran" not in p.stdout

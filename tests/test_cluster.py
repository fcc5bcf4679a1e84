"""Training on a cluster (issue 28): c_train.sh submits stage 1 through $cuda_cmd when it is not run.pl,
with the GPU count; tested with utils/slurm.pl and a fake sbatch that runs the job here."""

import shutil

import pytest

from conftest import FAKE_SBATCH, run, tiny_configs, write


@pytest.mark.slow
def test_c_train_submits_training_through_cuda_cmd(tiny_egs, tmp_path):
    data = tmp_path / "synth"
    shutil.copytree(tiny_egs, data, symlinks=True)
    bindir = tmp_path / "bin"
    write(bindir / "sbatch", FAKE_SBATCH).chmod(0o755)
    teacher, _ = tiny_configs(tmp_path)
    exp = tmp_path / "exp" / "tiny"
    env = {
        "PATH": f"{bindir}:" + __import__("os").environ["PATH"],
        "SLURM_PL_POLL": "0.05",
        "cuda_cmd": "utils/slurm.pl --partition gpu --mem 8G",
    }
    p = run(
        f"./c_train.sh --data {data} --config {teacher} --exp-dir {exp} --stop-stage 1 --gpus 0,1 --test-while-training false",
        env={**env, "PATH": env["PATH"]},
    )
    # the scheduler's node has no GPU here: the job fails, and the failure names its log
    calls = (bindir / "calls").read_text()
    assert "--gres=gpu:2" in calls and "--partition=gpu" in calls and "--mem=8G" in calls
    assert "goes through $cuda_cmd" in p.stdout and "--gpu 2" in p.stdout
    job_log = (exp / "log" / "train_job.log").read_text()
    assert "torch.distributed.run" in job_log and "--nproc_per_node 2" in job_log
    assert p.returncode != 0 and f"{exp}/log/train_job.log" in p.stderr
    # on CPU (no --gpus) the submitted job trains, and the exp is the one a local run makes
    p = run(
        f"./c_train.sh --data {data} --config {teacher} --exp-dir {exp}_cpu --stop-stage 1 --test-while-training false", env=env
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "--gres=gpu:0" in (bindir / "calls").read_text().splitlines()[-1]
    assert (tmp_path / "exp" / "tiny_cpu" / "checkpoints" / "last.pt").exists()
    assert "# Ended (code 0)" in (tmp_path / "exp" / "tiny_cpu" / "log" / "train_job.log").read_text()

"""run.sh end to end on the tiny preset (the README's command (1) runs the same script on 'demo')."""
from conftest import run


def test_run_sh_tiny(tmp_path):
    data = tmp_path / "synth"
    p = run(["./run.sh", "--preset", "tiny", "--data", str(data), "--nj", "1"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Stage 0" in p.stdout and "Stage 1" in p.stdout and "Stage 2" in p.stdout
    assert p.stdout.count("Successfully validated") == 4  # before and after features
    for part in ("train", "test"):
        assert (data / part / "feats.scp").exists() and (data / part / "utt2num_frames").exists()
    assert (data / "train" / "trials_2w").exists()
    assert (data / "egs" / "spect" / "train" / "feats.scp").exists() and (data / "egs" / "spect" / "spk2label").exists()
    # a rerun keeps the corpus and can start at a later stage
    p = run(["./run.sh", "--preset", "tiny", "--data", str(data), "--stage", "1"])
    assert p.returncode == 0 and "Stage 0" not in p.stdout


def test_run_sh_rejects_unknown_option():
    p = run(["./run.sh", "--no-such-option", "1"])
    assert p.returncode != 0 and "invalid option --no-such-option" in p.stderr

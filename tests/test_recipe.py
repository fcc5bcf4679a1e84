"""run.sh end to end on the tiny preset (the README's command (1) runs the same script on 'demo')."""
import numpy as np
import yaml

from conftest import run, tiny_configs


def test_run_sh_tiny(tmp_path):
    data = tmp_path / "synth"
    p = run(["./run.sh", "--preset", "tiny", "--data", str(data), "--nj", "1", "--stop-stage", "2"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Stage 0" in p.stdout and "Stage 1" in p.stdout and "Stage 2" in p.stdout
    assert p.stdout.count("Successfully validated") == 4  # before and after features
    for part in ("train", "test"):
        assert (data / part / "feats.scp").exists() and (data / part / "utt2num_frames").exists()
    assert (data / "train" / "trials_2w").exists()
    assert (data / "egs" / "spect" / "train" / "feats.scp").exists() and (data / "egs" / "spect" / "spk2label").exists()
    # a rerun keeps the corpus and can start at a later stage; stage 3 trains, embeds and scores
    teacher, student = tiny_configs(tmp_path, batch_size=32)
    p = run(["./run.sh", "--preset", "tiny", "--data", str(data), "--stage", "1", "--config",
             str(teacher), "--exp-dir", str(tmp_path / "exp"), "--att-config",
             str(student), "--att-exp-dir", str(tmp_path / "student")])
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Stage 0" not in p.stdout and "Stage 5" in p.stdout
    assert "EER" in (tmp_path / "exp" / "results.md").read_text()
    out = tmp_path / "exp" / "gradients" / "integrated_gradients"
    v = np.load(out / "freq_weights.npy")
    assert v.shape == (161,) and np.isfinite(v).all() and (v > 0).all()
    assert len((out / "maps.scp").read_text().splitlines()) == 8  # one utterance per training speaker
    for f in ("weights_integrated_gradients.png", "weights_integrated_gradients.pdf", "maps_integrated_gradients.png"):
        assert (tmp_path / "exp" / "plots" / f).exists()
    assert "EER" in (tmp_path / "student" / "results.md").read_text()
    saved = yaml.safe_load((tmp_path / "student" / "config.yaml").read_text())
    assert saved["model"]["attention"]["prior"] == str(out / "freq_weights.npy")
    assert np.array_equal(np.load(tmp_path / "student" / "prior.npy"), v)
    # b_extract.sh: a rerun with the same options is skipped; a CAM method runs on the same teacher
    p = run(["./b_extract.sh", "--data", str(data), "--teacher-exp", str(tmp_path / "exp"), "--nj", "2",
             "--stop-stage", "1"])
    assert p.returncode == 0 and "up to date, skipped" in (out / "log" / "cam_extract.1.log").read_text()
    p = run(["./b_extract.sh", "--teacher-exp", str(tmp_path / "exp"), "--method", "grad_cam", "--nj", "1"])
    assert p.returncode == 0, p.stderr[-2000:]


def test_run_sh_rejects_unknown_option():
    p = run(["./run.sh", "--no-such-option", "1"])
    assert p.returncode != 0 and "invalid option --no-such-option" in p.stderr

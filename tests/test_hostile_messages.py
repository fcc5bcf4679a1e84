"""Hostile and foreign input, cases 7-8 of the robustness issue (case numbers in the names): weak
messages and silent wrongs (file formats, duplicate keys, trials, priors, checkpoints, disk full,
concurrent runs, paths out of the exp, resumed metrics) and the augmented validation leak."""

import fcntl

import numpy as np
import pytest
import torch

from conftest import make_data_dir, run, train_args, write


# --- 7. weak messages and silent wrongs ------------------------------------------------------


def test_case7_float_wav_is_read_through_soundfile(tmp_path):
    from datasets.audio import read_wav
    import struct

    n = 100
    data = np.full(n, 0.25, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    riff = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    (tmp_path / "f.wav").write_bytes(riff)
    x, sr = read_wav(str(tmp_path / "f.wav"))  # full-scale floats come back in Kaldi's int16 scale
    assert sr == 16000 and x.shape == (1, n) and np.allclose(x, 0.25 * 32768)


@pytest.mark.parametrize("name, lines", [("utt2spk", ["u1 spkA", "u1 spkB"]), ("wav.scp", ["u1 /a.wav", "u1 /b.wav"])])
def test_case7_one_utterance_with_two_speakers_or_wavs_is_an_error(tmp_path, name, lines):
    d = tmp_path / "d"
    write(d / "utt2spk", "u1 spkA\nu2 spkA\n")
    write(d / "wav.scp", "u1 /a.wav\nu2 /c.wav\n")
    write(d / name, "\n".join(lines + ([f"u2 {'spkA' if name == 'utt2spk' else '/c.wav'}"])) + "\n")
    before = (d / name).read_bytes()
    p = run(["utils/fix_data_dir.sh", str(d)])
    assert p.returncode == 1 and f"{d / name}:2: 'u1' again with another value" in p.stderr
    assert (d / name).read_bytes() == before


def test_case7_fix_data_dir_drops_bad_label_duplicate_and_self_pair_trials(tmp_path):
    d = tmp_path / "d"
    write(d / "utt2spk", "a1 a\na2 a\nb1 b\n")
    write(d / "trials", "a1 a2 target\na1 b1 nontraget\na1 a2 target\na1 a1 target\na2 b1 nontarget\n")
    p = run(["utils/fix_data_dir.sh", str(d)])
    assert p.returncode == 0, p.stderr
    assert (d / "trials").read_text() == "a1 a2 target\na2 b1 nontarget\n"
    assert "trials: rewrote, 2 lines, dropped 3" in p.stdout + p.stderr


def test_case7_self_pair_trial_is_not_scored(tiny_egs, tmp_path):
    from recipe.evaluate import read_trials
    from datasets.kaldi_files import DataDirError

    t = write(tmp_path / "trials", "spk0001-s01-00001 spk0001-s01-00001 target\n")
    with pytest.raises(DataDirError, match="trials:1: self-pair"):
        read_trials(t)


def test_case7_2d_prior_is_refused(tmp_path):
    from core.errors import ConfigError
    from recipe.experiment import resolve_prior

    np.save(tmp_path / "p.npy", np.ones((7, 23)))
    with pytest.raises(ConfigError, match="a 7x23 array, not one value per bin"):
        resolve_prior(str(tmp_path / "p.npy"), 161)


def test_case7_truncated_checkpoint_says_so(tmp_path):
    from training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "c.pt", {"w": torch.randn(200, 200)})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"c.pt: truncated or not a checkpoint \(80,"):
        load_checkpoint(tmp_path / "c.pt")


def test_case7_disk_full_names_the_file_and_leaves_no_temp(tmp_path, monkeypatch):
    import errno
    import kaldiio.utils
    from datasets.ark_io import AtomicArkWriter

    real = kaldiio.WriteHelper.__setitem__

    def full(self, key, value):
        if key == "u2":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, key, value)

    monkeypatch.setattr(kaldiio.WriteHelper, "__setitem__", full)
    with pytest.raises(OSError, match=r"writing .*feats.ark failed: No space left on device"):
        with AtomicArkWriter(tmp_path / "feats") as w:
            w["u1"] = np.zeros((3, 4), dtype=np.float32)
            w["u2"] = np.zeros((3, 4), dtype=np.float32)
    assert list(tmp_path.iterdir()) == []


def _hold(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    f.write("pid 4242 on testhost since now: the other run\n")
    f.flush()
    return f


def test_case7_second_training_into_one_exp_is_refused(tiny_egs, tmp_path):
    exp = tmp_path / "exp"
    holder = _hold(exp / ".lock")
    try:
        p = run(train_args(tiny_egs, exp))
    finally:
        holder.close()
    assert p.returncode == 1 and "is in use by another run (pid 4242 on testhost" in p.stderr
    assert not (exp / "log").exists()


def test_case7_second_feature_run_on_one_dir_is_refused(tmp_path):
    d = make_data_dir(tmp_path / "d", {"spk1-r1-1": "spk1"})
    holder = _hold(d / ".make_feats.lock")
    try:
        p = run(f"steps/make_spect.sh --nj 1 {d} {d}/log {tmp_path}/spect")
    finally:
        holder.close()
    assert p.returncode == 1 and "is in use by another feature extraction" in p.stderr
    assert not (d / "feats.scp").exists()


def test_case7_score_name_cannot_leave_the_exp(tmp_path):
    exp = tmp_path / "exp"
    p = run(["python", "-m", "steps.score", "--exp-dir", str(exp), "--trials", str(tmp_path / "t"), "--name", "../../x"])
    assert p.returncode == 1 and "a plain file name is needed" in p.stderr
    assert not list(tmp_path.rglob("x.score"))


class _Sampler:
    start, n = 0, 6

    def set_epoch(self, epoch, start=0):
        self.start = start

    def __len__(self):
        return self.n


class _Loader:
    def __init__(self, sampler, batches, stop=None):
        self.sampler, self.batches, self.stop = sampler, batches, stop

    def __iter__(self):
        for i in range(self.sampler.start, len(self.batches)):
            if i == self.stop:
                raise KeyboardInterrupt  # the kill
            yield self.batches[i]


def _one_epoch_trainer(ckpt_dir, batches, stop=None):
    """A tiny ResCNN trained one epoch over `batches`, a checkpoint after every step; killed at batch `stop`."""
    from losses import build_loss
    from losses.margin import MarginScheduler
    from models.registry import build_model
    from training.trainer import Net, Trainer

    torch.manual_seed(1)
    model = build_model({"name": "ResCNN", "channels": [4]}, 161)
    net = Net(model, build_loss({"name": "AAMSoftmax"}, model.emb_dim, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    sampler = _Sampler()
    cfg = {"train": {"amp": "none", "epochs": 1, "test_every": 1, "keep_last": 0, "grad_clip": 0.0}}
    loop = {"sampler": sampler, "train_loader": _Loader(sampler, batches, stop), "valid_loader": None, "cfg": cfg}
    steps = {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1), "sched_step": "epoch"}
    return Trainer(
        net=net,
        optimizer=opt,
        margin=MarginScheduler(net.head, 0, 0),
        **loop,
        **steps,
        ckpt_dir=ckpt_dir,
        log=lambda m: None,
        device=torch.device("cpu"),
        save_every_steps=1,
    )


def test_case7_resumed_epoch_metrics_count_the_batches_before_the_resume(tmp_path):
    """One epoch of 6 batches, killed after batch 2 and resumed, logs the loss of all 6 batches."""
    from training.checkpoint import load_checkpoint

    torch.manual_seed(0)
    batches = [(torch.randn(4, 60, 161), torch.randint(0, 3, (4,))) for _ in range(_Sampler.n)]
    a, b = tmp_path / "whole", tmp_path / "killed"
    whole = _one_epoch_trainer(a, batches).fit()[0]["train_loss"]
    with pytest.raises(KeyboardInterrupt):
        _one_epoch_trainer(b, batches, stop=2).fit()
    resumed = _one_epoch_trainer(b, batches)
    resumed.restore(load_checkpoint(b / "last.pt"))
    assert resumed.state.batch_in_epoch == 2
    assert resumed.fit()[0]["train_loss"] == pytest.approx(whole, rel=1e-6)


# --- 8. augmented validation leak -------------------------------------------------------------


def test_case8_validation_split_is_drawn_on_clean_ids():
    from datasets.egs import split_valid

    utts = [f"spk1-r{r}-{n}{suf}" for r in range(3) for n in range(2) for suf in ("", "-reverb", "-noise", "-music")]
    for seed in range(5):
        train, valid = split_valid({"spk1": sorted(utts)}, 2, seed)
        held = valid["spk1"]
        assert len(held) == 2 and all(not u.endswith(("-reverb", "-noise", "-music")) for u in held)
        assert not any(u.split("-")[:3] == h.split("-")[:3] for u in train["spk1"] for h in held)
        assert len(train["spk1"]) == 4 * 4

"""Hostile and foreign input, one test per case of the robustness issue (case numbers in the names):
no injection, no silent wrongs, clear errors naming the file, nothing half-written."""
import fcntl
import os
import shutil
import wave

import numpy as np
import pytest
import torch

from conftest import ROOT, run, write
from datasets.kaldi_files import read_dict

NASTY = ["a;>PWNED1", "b$(>PWNED2)", "c`>PWNED3`", "q'd\"x\""]  # no blanks: Kaldi's rule left these unquoted


def _wav(path, n=8000, sr=16000, seed=0):
    x = (np.random.default_rng(seed).standard_normal(n) * 3000).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.tobytes())
    return path


def _data_dir(d, utts, wavs=None):
    """A data dir of utts (id -> speaker) with a wav each (made unless given)."""
    wavs = wavs or {u: _wav(d / "wav" / f"{u}.wav", seed=i) for i, u in enumerate(utts)}
    write(d / "wav.scp", "".join(f"{u} {wavs[u]}\n" for u in sorted(utts)))
    write(d / "utt2spk", "".join(f"{u} {utts[u]}\n" for u in sorted(utts)))
    spk = {}
    for u in sorted(utts):
        spk.setdefault(utts[u], []).append(u)
    write(d / "spk2utt", "".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk.items())))
    return d


# --- 1. shell injection -----------------------------------------------------------------------

@pytest.mark.parametrize("name", NASTY)
def test_case1_run_pl_passes_paths_with_shell_syntax_literally(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    p = run([str(ROOT / "utils/run.pl"), "JOB=1:2", str(d / "log" / "x.JOB.log"), "python", "-c",
             "import sys; open(sys.argv[1], 'w').write('ok')", str(d / "out.JOB")], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (d / "out.1").read_text() == "ok" and (d / "out.2").read_text() == "ok"
    assert not list(tmp_path.rglob("PWNED*")) and not list(ROOT.glob("PWNED*"))


def test_run_pl_still_runs_deliberate_pipes(tmp_path):
    p = run(["utils/run.pl", f"{tmp_path}/x.log", "echo", "hello", "|", "tr", "a-z", "A-Z", ">", f"{tmp_path}/o"])
    assert p.returncode == 0 and (tmp_path / "o").read_text() == "HELLO\n"


FAKE_SBATCH = """#!/bin/bash
array=; script=
for a in "$@"; do case $a in --array=*) array=${a#--array=};; -*) ;; *) script=$a;; esac; done
range=${array%%%*}; s=${range%-*}; e=${range#*-}
for ((i=s;i<=e;i++)); do SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=1 bash "$script" >/dev/null 2>&1; done
echo 1
"""


def test_case1_slurm_pl_quotes_log_and_command_paths(tmp_path):
    bindir = tmp_path / "bin"
    write(bindir / "sbatch", FAKE_SBATCH).chmod(0o755)
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "SLURM_PL_POLL": "0.05"}
    for name in [*NASTY, "sp ace $(>PWNED4)"]:
        d = tmp_path / name
        d.mkdir()
        p = run([str(ROOT / "utils/slurm.pl"), "JOB=1:2", str(d / "log" / "x.JOB.log"), "echo", "task", "JOB", str(d / "a JOB"),
                 "|", "tr", "a-z", "A-Z"], env=env, cwd=tmp_path)
        assert p.returncode == 0, (name, p.stderr)
        log = (d / "log" / "x.2.log").read_text()
        assert f"TASK 2 {str(d / 'a 2').upper()}" in log, log
    assert not list(tmp_path.rglob("PWNED*"))


def test_case1_vox2_prep_quotes_paths_in_ffmpeg_pipes(tmp_path):
    from datasets.audio import read_wav
    from datasets.kaldi_files import read_dict
    root = tmp_path / "vox2 $(>PWNED5) `>PWNED6`;x" / "dev"
    src = _wav(tmp_path / "s.wav")
    for spk, vid in (("id00012", "abc"), ("id00013", "de'f")):
        (root / "aac" / spk / vid).mkdir(parents=True)
        shutil.copy(src, root / "aac" / spk / vid / "00001.m4a")
    p = run(["python", "-m", "steps.prepare_voxceleb", "vox2", "--root", str(root), "--out", str(tmp_path / "d")])
    assert p.returncode == 0, p.stderr
    bindir = tmp_path / "bin"  # ffmpeg stand-in: writes its -i file to stdout
    write(bindir / "ffmpeg", '#!/bin/bash\nwhile [ "$1" != -i ]; do shift; done\ncat "$2"\n').chmod(0o755)
    os.environ["PATH"] = f"{bindir}:{os.environ['PATH']}"
    try:
        for spec in read_dict(tmp_path / "d" / "wav.scp", max_fields=None).values():
            x, sr = read_wav(spec)
            assert sr == 16000 and x.shape == (1, 8000)
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(":", 1)[1]
    assert not list(tmp_path.rglob("PWNED*"))


# --- 2. config values -------------------------------------------------------------------------

@pytest.fixture
def recipe(tiny_egs):
    return tiny_egs


def _train(recipe, exp, *sets, cfg=None):
    args = ["python", "-m", "steps.train", "--config", str(cfg or ROOT / "conf" / "demo_rescnn.yaml"), "--egs-dir",
            str(recipe / "egs" / "spect"), "--exp-dir", str(exp), "--device", "cpu"]
    for s in ("model.channels=[4, 8]", "model.embedding_dim=32", "train.batch_size=16", "train.crop_min=60",
              "train.crop_max=100", "train.valid_frames=100", "train.num_workers=0", "train.epochs=1", *sets):
        args += ["--set", s]
    return args


def test_case2_bad_config_values_are_errors_before_anything_is_written(recipe, tmp_path, capsys, monkeypatch):
    from steps.train import main
    monkeypatch.setenv("GFA_MALLOC", "default")  # in this process: leave the test runner's malloc alone
    exp = tmp_path / "x"
    for bad, msg in (("optim.lr=fast", "optim.lr: expected a number, got 'fast'"),
                     ("train.epochs=abc", "train.epochs: expected an integer"),
                     ("train.batch_size=0", "train.batch_size: 0 is out of range"),
                     ("optim.lr=-0.1", "optim.lr: -0.1 is out of range"),
                     ("train.epochs=-1", "train.epochs: -1 is out of range")):
        assert main(_train(recipe, exp, bad)[3:]) == 1, bad  # an exception would be a traceback
        err = capsys.readouterr().err
        assert msg in err, (bad, err[-800:])
        assert not exp.exists(), bad
    p = run(_train(recipe, exp))  # the corrected rerun is not refused as "config.yaml differs"
    assert p.returncode == 0, p.stderr


# --- 3. feature fingerprints ------------------------------------------------------------------

def test_case3_a_wav_repaired_in_place_gets_features(tmp_path):
    d = _data_dir(tmp_path / "d", {f"spk1-r1-{i}": "spk1" for i in range(3)})
    bad = d / "wav" / "spk1-r1-1.wav"
    good = bad.read_bytes()
    bad.write_bytes(good[:30])  # truncated header
    cmd = f"steps/make_spect.sh --nj 1 --max-fail-frac 0.5 {d} {d}/log {tmp_path}/spect"
    p = run(cmd)
    assert p.returncode == 0, p.stderr
    assert len((d / "feats.scp").read_text().splitlines()) == 2
    bad.write_bytes(good)  # repaired in place: same name, same wav.scp
    p = run(cmd)
    assert p.returncode == 0, p.stderr
    assert "up to date, skipped" not in (d / "log" / "make_spect_d.1.log").read_text()
    assert len((d / "feats.scp").read_text().splitlines()) == 3
    import kaldiio
    before = kaldiio.load_mat(read_dict(d / "feats.scp")["spk1-r1-2"])
    _wav(d / "wav" / "spk1-r1-2.wav", seed=99)  # replaced in place by other audio of the same size
    assert run(cmd).returncode == 0
    assert not np.allclose(kaldiio.load_mat(read_dict(d / "feats.scp")["spk1-r1-2"]), before)


# --- 4. trials ---------------------------------------------------------------------------------

def _ids_dir(tmp_path, ids):
    d = tmp_path / "t"
    write(d / "utt2spk", "".join(f"{u} {u.split('-')[0]}\n" for u in sorted(ids)))
    return d


def test_case4_avoid_same_recording_on_ids_without_a_recording_field(tmp_path):
    d = _ids_dir(tmp_path, [f"spk{s}-u{n}" for s in range(4) for n in range(6)])
    p = run(["python", "datasets/make_trials.py", "40", str(d), "--avoid-same-recording"])
    assert p.returncode == 0, p.stderr
    assert "is not <spk>-<recording>-<n>" in p.stderr and "without the recording constraint" in p.stderr
    lines = (d / "trials").read_text().splitlines()
    assert len(lines) == 40 and sum(ln.endswith(" target") for ln in lines) == 20


def test_case4_recordings_come_from_segments(tmp_path):
    d = _ids_dir(tmp_path, [f"spk{s}-u{n}" for s in range(3) for n in range(4)])
    write(d / "segments", "".join(f"spk{s}-u{n} rec{s}{n // 2} 0 1\n" for s in range(3) for n in range(4)))
    p = run(["python", "datasets/make_trials.py", "20", str(d), "--avoid-same-recording"])
    assert p.returncode == 0 and "recordings from segments" in p.stderr
    for ln in (d / "trials").read_text().splitlines():
        a, b, lab = ln.split()
        if lab == "target":
            assert int(a[-1]) // 2 != int(b[-1]) // 2, ln  # never one recording


def test_case4_too_few_trials_is_a_warning_and_none_an_error(tmp_path):
    d = _ids_dir(tmp_path, [f"spk{s}-r1-{n}" for s in range(2) for n in range(3)])
    p = run(["python", "datasets/make_trials.py", "20000", str(d)])
    assert p.returncode == 0 and "warning: 12 trials written, 20000 asked for" in p.stderr
    p = run(["python", "datasets/make_trials.py", "100", str(d), "--avoid-same-recording", "--out", str(d / "t2")])
    assert p.returncode == 1 and "no target trial could be drawn" in p.stderr and not (d / "t2").exists()


def test_case4_split_trials_dir_bare_name_is_the_data_dirs_file(recipe, tmp_path):
    shutil.copy(recipe / "train" / "trials_2w", tmp_path / "trials_2w")  # a stale file in the cwd
    with open(tmp_path / "trials_2w", "a") as f:
        f.write("nosuch-utt-1 nosuch-utt-2 target\n")
    p = run(["python", str(ROOT / "datasets" / "split_trials_dir.py"), "--data-dir", str(recipe / "train"),
             "--out-dir", str(tmp_path / "out"), "--trials", "trials_2w"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"trials from {recipe / 'train' / 'trials_2w'}" in p.stdout
    assert (tmp_path / "out" / "trials").read_bytes() == (recipe / "train" / "trials_2w").read_bytes()


# --- 5. wrong features -------------------------------------------------------------------------

def test_case5_feat_type_fbank_uses_the_fbank_conf(tiny_corpus, tmp_path):
    import kaldiio
    data = tmp_path / "synth"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns("wav"))
    p = run(f"./a_prep_egs.sh --data {data} --feat-type fbank --stop-stage 1")
    assert p.returncode == 0, p.stderr
    assert "fbank features of 80 dims (conf/fbank_80.conf)" in p.stdout
    _, mat = next(kaldiio.load_scp_sequential(str(data / "test" / "feats.scp")))
    assert mat.shape[1] == 80


def test_case5_snip_edges_false_frames_a_signal_shorter_than_a_window(tmp_path):
    import kaldiio
    wavs = {"spk1-r1-1": _wav(tmp_path / "a.wav", n=325), "spk1-r1-2": _wav(tmp_path / "b.wav", n=16000)}
    d = _data_dir(tmp_path / "d", {u: "spk1" for u in wavs}, wavs)
    p = run(f"steps/make_mfcc.sh --nj 1 --mfcc-config conf/mfcc_30.conf {d} {d}/log {tmp_path}/mfcc")
    assert p.returncode == 0, p.stderr
    feats = dict(kaldiio.load_scp_sequential(str(d / "feats.scp")))
    assert feats["spk1-r1-1"].shape == (2, 30)  # Kaldi: (325 + 80) // 160 frames, edges reflected


# --- 6. stage scripts --------------------------------------------------------------------------

@pytest.mark.parametrize("script", ["./c_train.sh", "./b_extract.sh", "./a_prep_egs.sh", "./run.sh"])
def test_case6_stage_must_be_an_integer(script):
    p = run([script, "--stage", "two"])
    assert p.returncode == 1 and "--stage expects an integer, got 'two'" in p.stderr and "Done." not in p.stdout


def test_case6_stage_after_stop_stage_is_an_error_not_a_silent_done():
    p = run(["./c_train.sh", "--stage", "4", "--att-config", "conf/demo_rescnn_att.yaml"])
    assert p.returncode == 1 and "--stage 4 is after --stop-stage 3: nothing would run" in p.stderr


def test_case6_b_extract_of_a_missing_teacher_creates_nothing(tmp_path):
    p = run(["./b_extract.sh", "--teacher-exp", str(tmp_path / "none")])
    assert p.returncode == 1 and "is not a trained experiment" in p.stderr
    assert not (tmp_path / "none").exists()


def test_case6_failed_jobs_show_their_first_error_line(tmp_path):
    p = run(["utils/run.pl", "JOB=1:2", f"{tmp_path}/x.JOB.log", "python", "-c",
             "import sys; sys.exit('error: bad input in job ' + sys.argv[1]) if sys.argv[1] == '2' else None", "JOB"])
    assert p.returncode == 1 and f"{tmp_path}/x.2.log: error: bad input in job 2" in p.stderr


def test_case6_feature_conf_typo_is_reported_before_any_job(tmp_path):
    d = _data_dir(tmp_path / "d", {"spk1-r1-1": "spk1"})
    conf = write(tmp_path / "bad.conf", "--frame-length=20\n--frame-shfit=10\n")
    p = run(f"steps/make_spect.sh --nj 1 --spect-config {conf} {d} {d}/log {tmp_path}/spect")
    assert p.returncode == 1 and f"{conf}:2" in p.stderr and "frame-shfit" in p.stderr
    assert not (d / "log").exists() or not list((d / "log").glob("*.log"))


# --- 7. weak messages and silent wrongs ------------------------------------------------------

def test_case7_float_wav_is_named_with_a_fix(tmp_path):
    from datasets.audio import AudioError, read_wav
    import struct
    n = 100
    data = np.zeros(n, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    riff = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + \
        b"data" + struct.pack("<I", len(data)) + data
    (tmp_path / "f.wav").write_bytes(riff)
    with pytest.raises(AudioError, match="32-bit float WAV .* convert to 16-bit PCM"):
        read_wav(str(tmp_path / "f.wav"))


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


def test_case7_self_pair_trial_is_not_scored(recipe, tmp_path):
    from steps.evaluate import read_trials
    from datasets.kaldi_files import DataDirError
    t = write(tmp_path / "trials", "spk0001-s01-00001 spk0001-s01-00001 target\n")
    with pytest.raises(DataDirError, match="trials:1: self-pair"):
        read_trials(t)


def test_case7_2d_prior_is_refused(tmp_path):
    from models.registry import ConfigError
    from steps.experiment import resolve_prior
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


def test_case7_second_training_into_one_exp_is_refused(recipe, tmp_path):
    exp = tmp_path / "exp"
    holder = _hold(exp / ".lock")
    try:
        p = run(_train(recipe, exp))
    finally:
        holder.close()
    assert p.returncode == 1 and "is in use by another run (pid 4242 on testhost" in p.stderr
    assert not (exp / "log").exists()


def test_case7_second_feature_run_on_one_dir_is_refused(tmp_path):
    d = _data_dir(tmp_path / "d", {"spk1-r1-1": "spk1"})
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


def test_case7_resumed_epoch_metrics_count_the_batches_before_the_resume():
    """One epoch of 6 batches, killed after batch 2 and resumed, logs the loss of all 6 batches."""
    from losses import build_loss
    from losses.margin import MarginScheduler
    from models.registry import build_model
    from training.trainer import Net, Trainer
    torch.manual_seed(0)
    batches = [(torch.randn(4, 60, 161), torch.randint(0, 3, (4,))) for _ in range(6)]

    class Sampler:
        start = 0

        def set_epoch(self, epoch, start=0):
            self.start = start

        def __len__(self):
            return len(batches)

    class Loader:
        def __init__(self, sampler, stop=None):
            self.sampler, self.stop = sampler, stop

        def __iter__(self):
            for i in range(self.sampler.start, len(batches)):
                if i == self.stop:
                    raise KeyboardInterrupt  # the kill
                yield batches[i]

    def trainer(ckpt_dir, stop=None):
        torch.manual_seed(1)
        model = build_model({"name": "ResCNN", "channels": [4]}, 161)
        net = Net(model, build_loss({"name": "AAMSoftmax"}, model.emb_dim, 3))
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        sampler = Sampler()
        cfg = {"train": {"amp": "none", "epochs": 1, "test_every": 1, "keep_last": 0}}
        return Trainer(net=net, optimizer=opt, scheduler=torch.optim.lr_scheduler.StepLR(opt, 1), sched_step="epoch",
                       margin=MarginScheduler(net.head, 0, 0), sampler=sampler, train_loader=Loader(sampler, stop),
                       valid_loader=None, cfg=cfg, ckpt_dir=ckpt_dir, log=lambda m: None,
                       device=torch.device("cpu"), save_every_steps=1)

    import tempfile
    from pathlib import Path
    from training.checkpoint import load_checkpoint
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        whole = trainer(Path(a)).fit()[0]["train_loss"]
        with pytest.raises(KeyboardInterrupt):
            trainer(Path(b), stop=2).fit()
        resumed = trainer(Path(b))
        resumed.restore(load_checkpoint(Path(b) / "last.pt"))
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

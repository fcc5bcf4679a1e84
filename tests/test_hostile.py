"""Hostile and foreign input, cases 1-6 of the robustness issue (case numbers in the names): shell
injection, config values, feature fingerprints, trials, wrong features, stage scripts. Cases 7-8:
test_hostile_messages.py."""

import os
import shutil

import numpy as np
import pytest

from conftest import FAKE_SBATCH, ROOT, make_data_dir, make_wav, run, train_args, write
from datasets.kaldi_files import read_dict

NASTY = ["a;>PWNED1", "b$(>PWNED2)", "c`>PWNED3`", 'q\'d"x"']  # no blanks: Kaldi's rule left these unquoted


# --- 1. shell injection -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NASTY)
def test_case1_run_pl_passes_paths_with_shell_syntax_literally(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    p = run(
        [
            str(ROOT / "utils/run.pl"),
            "JOB=1:2",
            str(d / "log" / "x.JOB.log"),
            "python",
            "-c",
            "import sys; open(sys.argv[1], 'w').write('ok')",
            str(d / "out.JOB"),
        ],
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert (d / "out.1").read_text() == "ok" and (d / "out.2").read_text() == "ok"
    assert not list(tmp_path.rglob("PWNED*")) and not list(ROOT.glob("PWNED*"))


def test_run_pl_still_runs_deliberate_pipes(tmp_path):
    p = run(["utils/run.pl", f"{tmp_path}/x.log", "echo", "hello", "|", "tr", "a-z", "A-Z", ">", f"{tmp_path}/o"])
    assert p.returncode == 0 and (tmp_path / "o").read_text() == "HELLO\n"


def test_case1_slurm_pl_quotes_log_and_command_paths(tmp_path):
    bindir = tmp_path / "bin"
    write(bindir / "sbatch", FAKE_SBATCH).chmod(0o755)
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "SLURM_PL_POLL": "0.05"}
    for name in [*NASTY, "sp ace $(>PWNED4)"]:
        d = tmp_path / name
        d.mkdir()
        p = run(
            [
                str(ROOT / "utils/slurm.pl"),
                "JOB=1:2",
                str(d / "log" / "x.JOB.log"),
                "echo",
                "task",
                "JOB",
                str(d / "a JOB"),
                "|",
                "tr",
                "a-z",
                "A-Z",
            ],
            env=env,
            cwd=tmp_path,
        )
        assert p.returncode == 0, (name, p.stderr)
        log = (d / "log" / "x.2.log").read_text()
        assert f"TASK 2 {str(d / 'a 2').upper()}" in log, log
    assert not list(tmp_path.rglob("PWNED*"))


def test_case1_vox2_prep_quotes_paths_in_ffmpeg_pipes(tmp_path):
    from datasets.audio import read_wav
    from datasets.kaldi_files import read_dict

    root = tmp_path / "vox2 $(>PWNED5) `>PWNED6`;x" / "dev"
    src = make_wav(tmp_path / "s.wav")
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


def test_case2_bad_config_values_are_errors_before_anything_is_written(tiny_egs, tmp_path, capsys, monkeypatch):
    from steps.train import main

    monkeypatch.setenv("GFA_MALLOC", "default")  # in this process: leave the test runner's malloc alone
    exp = tmp_path / "x"
    for bad, msg in (
        ("optim.lr=fast", "optim.lr: expected a number, got 'fast'"),
        ("train.epochs=abc", "train.epochs: expected an integer"),
        ("train.batch_size=0", "train.batch_size: 0 is out of range"),
        ("optim.lr=-0.1", "optim.lr: -0.1 is out of range"),
        ("train.epochs=-1", "train.epochs: -1 is out of range"),
    ):
        assert main(train_args(tiny_egs, exp, bad)[3:]) == 1, bad  # an exception would be a traceback
        err = capsys.readouterr().err
        assert msg in err, (bad, err[-800:])
        assert not exp.exists(), bad
    p = run(train_args(tiny_egs, exp))  # the corrected rerun is not refused as "config.yaml differs"
    assert p.returncode == 0, p.stderr


# --- 3. feature fingerprints ------------------------------------------------------------------


def test_case3_a_wav_repaired_in_place_gets_features(tmp_path):
    d = make_data_dir(tmp_path / "d", {f"spk1-r1-{i}": "spk1" for i in range(3)})
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
    make_wav(d / "wav" / "spk1-r1-2.wav", seed=99)  # replaced in place by other audio of the same size
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
    assert p.returncode == 0 and "drawing target pairs within recordings instead" in p.stderr  # one recording each
    assert sum(ln.endswith(" target") for ln in (d / "t2").read_text().splitlines()) == 6
    single = _ids_dir(tmp_path / "single", [f"spk{s}-r1-0" for s in range(3)])  # one utterance per speaker
    p = run(["python", "datasets/make_trials.py", "100", str(single), "--avoid-same-recording"])
    assert p.returncode == 1 and "no speaker has two utterances" in p.stderr and not (single / "trials").exists()


def test_case4_split_trials_dir_bare_name_is_the_data_dirs_file(tiny_egs, tmp_path):
    shutil.copy(tiny_egs / "train" / "trials_2w", tmp_path / "trials_2w")  # a stale file in the cwd
    with open(tmp_path / "trials_2w", "a") as f:
        f.write("nosuch-utt-1 nosuch-utt-2 target\n")
    p = run(
        [
            "python",
            str(ROOT / "datasets" / "split_trials_dir.py"),
            "--data-dir",
            str(tiny_egs / "train"),
            "--out-dir",
            str(tmp_path / "out"),
            "--trials",
            "trials_2w",
        ],
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert f"trials from {tiny_egs / 'train' / 'trials_2w'}" in p.stdout
    assert (tmp_path / "out" / "trials").read_bytes() == (tiny_egs / "train" / "trials_2w").read_bytes()


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

    wavs = {"spk1-r1-1": make_wav(tmp_path / "a.wav", n=325), "spk1-r1-2": make_wav(tmp_path / "b.wav", n=16000)}
    d = make_data_dir(tmp_path / "d", {u: "spk1" for u in wavs}, wavs)
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
    p = run(
        [
            "utils/run.pl",
            "JOB=1:2",
            f"{tmp_path}/x.JOB.log",
            "python",
            "-c",
            "import sys; sys.exit('error: bad input in job ' + sys.argv[1]) if sys.argv[1] == '2' else None",
            "JOB",
        ]
    )
    assert p.returncode == 1 and f"{tmp_path}/x.2.log: error: bad input in job 2" in p.stderr


def test_case6_feature_conf_typo_is_reported_before_any_job(tmp_path):
    d = make_data_dir(tmp_path / "d", {"spk1-r1-1": "spk1"})
    conf = write(tmp_path / "bad.conf", "--frame-length=20\n--frame-shfit=10\n")
    p = run(f"steps/make_spect.sh --nj 1 --spect-config {conf} {d} {d}/log {tmp_path}/spect")
    assert p.returncode == 1 and f"{conf}:2" in p.stderr and "frame-shfit" in p.stderr
    assert not (d / "log").exists() or not list((d / "log").glob("*.log"))

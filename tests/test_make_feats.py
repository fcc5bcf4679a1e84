"""steps/make_{spect,fbank,mfcc}.sh and compute_vad_decision.sh on data dirs, including bad input."""

import shutil
import signal
import subprocess
import sys
import time

import kaldiio
import numpy as np
import pytest

from conftest import ROOT, run
from datasets.audio import write_wav
from datasets.datadir import validate_data_dir
from datasets.feat_opts import VadOpts, read_options
from datasets.kaldi_feats import compute
from datasets.kaldi_files import read_dict
from datasets.vad import compute_vad


@pytest.fixture
def data(tiny_corpus, tmp_path):
    d = tmp_path / "data" / "dev"
    shutil.copytree(tiny_corpus / "test", d)
    return d


def make(kind, d, *opts, nj=2, cmd="utils/run.pl"):
    return run(
        f'. ./cmd.sh && steps/make_{kind}.sh --nj {nj} --cmd "{cmd}" {" ".join(opts)} {d} {d}/log {d.parent}/{kind}/{d.name}'
    )


def test_seed_command_verbatim(data):
    # the README/seed call, with the paths of this test
    p = run(
        f". ./cmd.sh && steps/make_spect.sh --write-utt2num-frames true --spect-config conf/spect_161.conf "
        f'--nj 12 --cmd "$train_cmd" {data} {data}/log {data.parent}/spect/dev'
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert run(["utils/fix_data_dir.sh", str(data)]).returncode == 0
    assert validate_data_dir(data) == []
    frames = {u: int(n) for u, n in read_dict(data / "utt2num_frames").items()}
    wavs = read_dict(data / "wav.scp")
    for utt, mat in kaldiio.load_scp_sequential(str(data / "feats.scp")):
        assert mat.shape == (frames[utt], 161) and np.isfinite(mat).all()
    assert len(frames) == len(wavs) == 16
    assert (data / "frame_shift").read_text().strip() == "0.01"
    assert (data / "conf" / "spect_161.conf").exists()
    assert {p.name for p in (data.parent / "spect" / "dev").glob("*.ark")} == {f"raw_spect_dev.{j}.ark" for j in range(1, 13)}


@pytest.mark.parametrize("kind, dim", [("spect", 161), ("fbank", 80), ("mfcc", 30)])
def test_features_equal_library_up_to_compression(data, kind, dim):
    p = make(kind, data, "--compress", "false")
    assert p.returncode == 0, p.stderr
    from datasets.audio import read_wav

    conf = {"spect": "spect_161", "fbank": "fbank_80", "mfcc": "mfcc_30"}[kind]
    opts, _ = read_options(kind, ROOT / f"conf/{conf}.conf", ["--dither=0"])
    feats = dict(kaldiio.load_scp_sequential(str(data / "feats.scp")))
    utt, path = next(iter(read_dict(data / "wav.scp").items()))
    ref = compute(read_wav(path)[0][0], opts)
    assert feats[utt].shape == ref.shape == (ref.shape[0], dim)
    # dithered (1.0, int16 scale) versus not: close on average
    assert np.median(np.abs(feats[utt] - ref)) < 0.2
    p = make(kind, data, "--compress", "true")
    comp = dict(kaldiio.load_scp_sequential(str(data / "feats.scp")))
    rng = np.ptp(feats[utt])
    assert np.abs(comp[utt] - feats[utt]).max() < 0.02 * rng  # Kaldi lossy compression


def test_rerun_redoes_only_incomplete_jobs(data):
    assert make("spect", data, nj=3).returncode == 0
    out = data.parent / "spect" / "dev"
    arks = {j: (out / f"raw_spect_dev.{j}.ark").stat().st_mtime_ns for j in (1, 2, 3)}
    (out / "raw_spect_dev.2.done").unlink()  # job 2 looks interrupted
    (out / "raw_spect_dev.3.scp").unlink()  # job 3 lost an output
    time.sleep(0.01)
    assert make("spect", data, nj=3).returncode == 0
    assert "up to date, skipped" in (data / "log" / "make_spect_dev.1.log").read_text()
    assert (out / "raw_spect_dev.1.ark").stat().st_mtime_ns == arks[1]
    assert (out / "raw_spect_dev.2.ark").stat().st_mtime_ns != arks[2]
    assert (out / "raw_spect_dev.3.ark").stat().st_mtime_ns != arks[3]
    assert len(read_dict(data / "feats.scp")) == 16
    # a changed option invalidates every job
    assert make("spect", data, "--dither-seed", "5", nj=3).returncode == 0
    assert "up to date" not in (data / "log" / "make_spect_dev.1.log").read_text()


def _break(d, tmp_path):
    """Add one bad utterance of each kind to data dir ``d``; return their ids."""
    bad = tmp_path / "bad"
    write_wav(bad / "sr8k.wav", np.ones(16000), sample_rate=8000)
    write_wav(bad / "short.wav", np.ones(300))
    write_wav(bad / "trunc.wav", np.ones(8000))
    (bad / "trunc.wav").write_bytes((bad / "trunc.wav").read_bytes()[:-4000])
    (bad / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    entries = {
        "spk0009-s09-00091": f"{bad}/corrupt.wav",
        "spk0009-s09-00092": f"{bad}/trunc.wav",
        "spk0009-s09-00093": f"{bad}/sr8k.wav",
        "spk0009-s09-00094": f"{bad}/short.wav",
        "spk0009-s09-00095": "bash -c 'exit 7' |",
    }
    for name, text in (("wav.scp", lambda u, v: f"{u} {v}\n"), ("utt2spk", lambda u, v: f"{u} spk0009\n")):
        lines = (d / name).read_text().splitlines(keepends=True) + [text(u, v) for u, v in entries.items()]
        (d / name).write_text("".join(sorted(lines)))
    (d / "utt2dur").unlink()
    assert run(["utils/fix_data_dir.sh", str(d)]).returncode == 0
    return entries


def test_bad_utterances_warned_skipped_and_fixable(data, tmp_path):
    bad = _break(data, tmp_path)
    p = make("spect", data, "--max-fail-frac", "0.5", nj=1)
    assert p.returncode == 0, p.stderr
    log = (data / "log" / "make_spect_dev.1.log").read_text()
    for utt, reason in zip(
        bad, ["corrupt", "truncated", "sample rate 8000", "shorter than one 320-sample window", "pipe failed with exit code 7"]
    ):
        assert f"WARNING (compute_feats): {utt}: skipped:" in log and reason in log, (utt, reason)
    assert "features for 16 of 21 utterances" in p.stderr
    assert set(bad).isdisjoint(read_dict(data / "feats.scp"))
    assert run(["utils/fix_data_dir.sh", str(data)]).returncode == 0
    assert validate_data_dir(data) == []


def test_too_many_failures_fail_the_job_and_leave_nothing(data, tmp_path):
    _break(data, tmp_path)
    p = make("spect", data, nj=1)  # default --max-fail-frac 0.01
    assert p.returncode == 1
    assert "make_spect_dev.1.log" in p.stderr
    assert "5 of 21 utterances failed" in (data / "log" / "make_spect_dev.1.log").read_text()
    out = data.parent / "spect" / "dev"
    assert not list(out.glob("raw_spect_dev.1.*"))  # no ark, scp, temp or done file
    assert not (data / "feats.scp").exists()


def test_stereo_uses_channel_0_like_kaldi(data, tmp_path):
    import wave

    x = (np.random.default_rng(0).standard_normal((8000, 2)) * 1000).astype("<i2")
    with wave.open(str(tmp_path / "st.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000), w.writeframes(x.tobytes())
    (data / "wav.scp").write_text(
        "".join(
            f"{u} {tmp_path / 'st.wav'}\n" if i == 0 else f"{u} {v}\n"
            for i, (u, v) in enumerate(read_dict(data / "wav.scp").items())
        )
    )
    assert make("fbank", data, nj=1).returncode == 0
    assert "2 channels and --channel not set; using channel 0" in (data / "log" / "make_fbank_dev.1.log").read_text()


def test_killed_job_leaves_nothing_trusted(data, tmp_path):
    first = next(iter(read_dict(data / "wav.scp").items()))
    (data / "wav.scp").write_text(
        "".join(
            f"{u} sleep 30; cat {v} |\n" if u != first[0] and i == 5 else f"{u} {v}\n"
            for i, (u, v) in enumerate(read_dict(data / "wav.scp").items())
        )
    )
    prefix = tmp_path / "out" / "raw_spect_dev.1"
    cmd = [
        sys.executable,
        "-m",
        "steps.compute_feats",
        "--type",
        "spect",
        "--config",
        "conf/spect_161.conf",
        str(data),
        str(prefix),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, start_new_session=True)
    time.sleep(2.0)
    import os

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not any(prefix.parent.glob("raw_spect_dev.1.scp")) and not any(prefix.parent.glob("*.done"))
    (data / "wav.scp").write_text(
        "".join(f"{u} {v.replace('sleep 30; ', '')}\n" for u, v in read_dict(data / "wav.scp", max_fields=None).items())
    )
    p = run(cmd)
    assert p.returncode == 0, p.stderr
    assert len(dict(kaldiio.load_scp_sequential(f"{prefix}.scp"))) == 16


def test_vad_matches_kaldi_definition(data):
    assert make("spect", data).returncode == 0
    p = run(f"steps/compute_vad_decision.sh --nj 2 --vad-config conf/vad.conf {data}")
    assert p.returncode == 0, p.stderr
    vad = dict(kaldiio.load_scp_sequential(str(data / "vad.scp")))
    feats = dict(kaldiio.load_scp_sequential(str(data / "feats.scp")))
    opts, _ = read_options("vad", ROOT / "conf/vad.conf")
    for utt, f in list(feats.items())[:4]:
        e = f[:, 0].astype(np.float64)
        thr = opts.vad_energy_threshold + opts.vad_energy_mean_scale * e.sum() / len(e)
        ref = []
        for t in range(len(e)):  # literal transcription of compute-vad's loop
            num = den = 0
            for t2 in range(t - opts.vad_frames_context, t + opts.vad_frames_context + 1):
                if 0 <= t2 < len(e):
                    den += 1
                    num += e[t2] > thr
            ref.append(1.0 if num >= den * opts.vad_proportion_threshold else 0.0)
        assert np.array_equal(vad[utt], np.array(ref, dtype=np.float32))
        assert 0 < vad[utt].mean() < 1
    assert validate_data_dir(data) == []
    assert compute_vad(np.zeros((0, 161)), VadOpts()).shape == (0,)


def test_segments_are_cut_like_extract_segments(data, tmp_path):
    """wav.scp keyed by recording + segments: each segment's features equal those of its samples."""
    from datasets.audio import read_wav

    wavs = read_dict(data / "wav.scp")
    reco, path = next(iter(wavs.items()))
    x = read_wav(path)[0][0]
    d = tmp_path / "seg"
    d.mkdir()
    (d / "wav.scp").write_text(f"rec1 {path}\n")
    (d / "segments").write_text("a-1 rec1 0.00 0.50\na-2 rec1 0.25 0.90\n")
    (d / "utt2spk").write_text("a-1 a\na-2 a\n")
    (d / "spk2utt").write_text("a a-1 a-2\n")
    p = make("spect", d, "--compress", "false", "--dither-seed", "0", nj=1)
    assert p.returncode == 0, p.stderr
    feats = dict(kaldiio.load_scp_sequential(str(d / "feats.scp")))
    opts, _ = read_options("spect", ROOT / "conf/spect_161.conf", ["--dither=0"])
    ref = compute(x[int(0.25 * 16000) : int(0.90 * 16000)], opts)
    assert feats["a-2"].shape == ref.shape
    assert np.median(np.abs(feats["a-2"] - ref)) < 0.2  # dither 1.0 versus none
    assert read_dict(d / "utt2dur")["a-1"] == "0.5000"

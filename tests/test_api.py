"""The Python API (gfa) and torch.hub on an experiment trained by the recipe's steps, from a fresh
process in the repo root and in another directory."""

import json
import sys

import numpy as np

from conftest import ROOT, run

FIVE_LINES = """
from gfa import Experiment
exp = Experiment.load({exp!r})
e = exp.embed({a!r})
score, same = exp.verify({a!r}, {b!r})
w = exp.frequency_weights([{a!r}, {b!r}], method="gradient")
import json; print(json.dumps({{"dim": int(e.shape[0]), "score": score, "same": same, "w": [float(x) for x in w]}}))
"""


def wav_pair(user_exps):
    table = dict(line.split(None, 1) for line in (user_exps["data"] / "test" / "wav.scp").read_text().splitlines())
    utts = sorted(table)
    return table[utts[0]].strip(), table[utts[1]].strip()


def test_five_lines_in_a_fresh_process_here_and_elsewhere(user_exps, tmp_path):
    a, b = wav_pair(user_exps)
    code = FIVE_LINES.format(exp=str(user_exps["teacher"]), a=a, b=b)
    here = run([sys.executable, "-c", code])
    assert here.returncode == 0, here.stderr[-2000:]
    elsewhere = run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert elsewhere.returncode == 0, elsewhere.stderr[-2000:]
    r1, r2 = json.loads(here.stdout.splitlines()[-1]), json.loads(elsewhere.stdout.splitlines()[-1])
    assert r1 == r2 and r1["dim"] == 32 and -1 <= r1["score"] <= 1 and isinstance(r1["same"], bool)
    assert len(r1["w"]) == 161 and min(r1["w"]) >= 0 and max(r1["w"]) > 0
    p = run([sys.executable, "-m", "steps.verify", "--exp-dir", str(user_exps["teacher"]), a, b])
    assert abs(float(p.stdout.split()[2]) - r1["score"]) <= 1e-6  # the CLI and the API: one path


def test_torch_hub_local_and_inputs_of_every_kind(user_exps, tmp_path):
    import torch
    from datasets.audio import read_wav

    a, b = wav_pair(user_exps)
    exp = torch.hub.load(str(ROOT), "experiment", exp_dir=str(user_exps["teacher"]), source="local")
    e = exp.embed(a)
    x, sr = read_wav(a)
    assert np.allclose(exp.embed(x[0], sample_rate=sr), e, atol=1e-6)  # int16-scale samples
    assert np.allclose(exp.embed(torch.from_numpy(x[0] / 32768.0), sample_rate=sr), e, atol=1e-4)  # full-scale floats
    feats = exp.features(a)[0]
    assert np.allclose(exp.embed(feats), e, atol=1e-6)  # a feature matrix
    assert exp.embed([a, b]).shape == (2, 32)
    import pytest
    from datasets.kaldi_files import DataDirError

    with pytest.raises(DataDirError, match="could not be used"):
        exp.embed(x[0], sample_rate=8000)  # another rate: refused, nothing resampled silently
    with pytest.raises(DataDirError, match="needs its sample_rate"):
        exp.embed(x[0])


def test_flac_and_a_44k_float_wav_verify_with_resampling(user_exps, tmp_path):
    import soundfile
    from datasets.audio import read_wav, resample
    from gfa import Experiment

    a, b = wav_pair(user_exps)
    x, sr = read_wav(a)
    soundfile.write(tmp_path / "a.flac", x[0].astype(np.int16), sr)  # lossless: the same samples
    soundfile.write(tmp_path / "a44.wav", resample(x, sr, 44100)[0] / 32768.0, 44100, subtype="FLOAT")
    exp = Experiment.load(user_exps["teacher"], resample=True)
    ref, _ = exp.verify(a, b)
    flac, _ = exp.verify(str(tmp_path / "a.flac"), b)
    wide, _ = exp.verify(str(tmp_path / "a44.wav"), b)
    assert abs(flac - ref) <= 1e-6 and abs(wide - ref) <= 0.02, (ref, flac, wide)
    t = str(user_exps["teacher"])
    p = run([sys.executable, "-m", "steps.verify", "--exp-dir", t, str(tmp_path / "a44.wav"), b, "--resample"])
    assert p.returncode == 0 and "resampled from 44100 Hz" in p.stderr, p.stderr[-1500:]
    assert abs(float(p.stdout.split()[2]) - wide) <= 1e-6
    p = run([sys.executable, "-m", "steps.verify", "--exp-dir", t, str(tmp_path / "a44.wav"), b])
    assert p.returncode == 1 and "sample rate 44100 Hz differs" in p.stderr  # without --resample: refused

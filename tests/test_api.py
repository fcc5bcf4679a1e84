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

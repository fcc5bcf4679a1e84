"""Energy VAD applied as Kaldi's select-voiced-frames: egs (a_prep_egs.sh --vad true), training with
data.vad: true, and embeddings that differ from unapplied ones only by the dropped frames."""

import shutil

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from conftest import call


@pytest.fixture
def vad_exp(user_exps):
    """The tiny student trained on VAD egs with data.vad: true (see conftest.user_exps)."""
    return user_exps["data"], user_exps["student"]


def test_vad_embeddings_drop_only_the_unvoiced_frames(vad_exp):
    from recipe.experiment import load_exp_model

    data, exp = vad_exp
    model, _, _, _ = load_exp_model(exp)
    emb = dict(kaldiio.load_scp_sequential(str(exp / "embeddings" / "test" / "xvector.scp")))
    vad = dict(kaldiio.load_scp_sequential(str(data / "test" / "vad.scp")))
    dropped = 0
    with torch.no_grad():
        for utt, feats in kaldiio.load_scp_sequential(str(data / "test" / "feats.scp")):
            keep = vad[utt] != 0
            voiced = model(torch.from_numpy(feats[keep][None]))[0].numpy()
            assert np.abs(emb[utt] - voiced).max() <= 1e-5, utt
            if not keep.all():
                dropped += 1
                assert np.abs(emb[utt] - model(torch.from_numpy(feats[None]))[0].numpy()).max() > 1e-3
    assert dropped >= 4  # the check above meant something: VAD dropped frames of these utterances


def test_vad_egs_and_experiment_record_it(vad_exp):
    data, exp = vad_exp
    assert (data / "egs" / "spect_vad" / "vad.conf").exists() and (exp / "vad.conf").exists()
    assert yaml.safe_load((exp / "config.yaml").read_text())["data"]["vad"] is True
    lens = {k: int(v) for k, v in (ln.split() for ln in (data / "train" / "utt2num_frames").read_text().splitlines())}
    starts = [ln.split() for ln in (data / "egs" / "spect_vad" / "train" / "egs2src").read_text().splitlines()]
    voiced = {u: int((v != 0).sum()) for u, v in kaldiio.load_scp_sequential(str(data / "train" / "vad.scp"))}
    assert all(int(s) + 120 <= max(voiced[u], 120) for _, u, s in starts)  # chunks lie inside the voiced frames
    assert sum(voiced.values()) < sum(lens.values())


def test_vad_missing_is_an_error(vad_exp, tmp_path):
    data, exp = vad_exp
    d = tmp_path / "test"
    shutil.copytree(data / "test", d)
    (d / "vad.scp").unlink()
    p = call("steps.extract_embeddings", ["--exp-dir", str(exp), "--data-dir", str(d)])
    assert p.returncode == 1 and "vad.scp: missing" in p.stderr and "compute_vad_decision.sh" in p.stderr

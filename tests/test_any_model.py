"""Frequency weights for models this project did not build (gradients/any_model.py), and the same
vector as b_extract.sh for a teacher trained here."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from conftest import run
from gradients.any_model import model_frequency_weights


class TimeMean(nn.Module):
    def forward(self, x):  # (batch, time, hidden) -> (batch, hidden)
        return x.mean(dim=1)


def band_model(freq: int = 40, band=range(10, 20), out: int = 16) -> nn.Sequential:
    """A plain nn.Sequential that reads only the bins of ``band``: (batch, time, freq) -> (batch, out)."""
    torch.manual_seed(0)
    lin = nn.Linear(freq, 32)
    with torch.no_grad():
        keep = torch.zeros(freq)
        keep[list(band)] = 1.0
        lin.weight.mul_(keep)  # columns outside the band are 0: no path from those bins
    return nn.Sequential(lin, nn.Tanh(), TimeMean(), nn.Linear(32, out))


@pytest.mark.parametrize("method", ["gradient", "integrated_gradients", "expected_gradients", "occlusion"])
def test_a_plain_sequential_finds_the_only_bins_it_reads(method):
    model = band_model()
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(int(n), 40)).astype(np.float32) for n in rng.integers(30, 90, 6)]
    v = model_frequency_weights(model, feats, method, options={"n_samples": 4} if method == "expected_gradients" else None)
    assert v.shape == (40,) and np.isfinite(v).all()
    inside, outside = v[10:20], np.r_[v[:10], v[20:]]
    tol = 1e-6
    if method == "occlusion":  # an 8-bin window straddles the band edges: judge the bins far from it;
        outside, tol = np.r_[v[:2], v[28:]], 1e-3  # a target difference of two forward passes: float32 noise
    assert inside.min() > 0 and outside.max() <= tol * inside.max(), (method, v)


def test_logit_target_and_bad_inputs():
    model = band_model(out=5)
    feats = [np.random.default_rng(i).normal(size=(40, 40)).astype(np.float32) for i in range(4)]
    v = model_frequency_weights(model, feats, "gradient", labels=[0, 1, 2, 3], target="logit")
    assert v[10:20].min() > 0 and np.abs(np.r_[v[:10], v[20:]]).max() == 0
    with pytest.raises(ValueError, match="needs labels"):
        model_frequency_weights(model, feats, "gradient", target="logit")
    with pytest.raises(ValueError, match="needs a head with a cosine"):
        model_frequency_weights(model, feats, "gradient", labels=[0, 1, 2, 3], target="cosine")
    with pytest.raises(ValueError, match="unknown saliency method"):
        model_frequency_weights(model, feats, "lime")
    with pytest.raises(ValueError, match="one number of bins"):
        model_frequency_weights(model, [feats[0], feats[1][:, :30]], "gradient")


def test_a_teacher_trained_here_gives_b_extracts_vector(user_exps, tmp_path):
    import kaldiio
    from datasets.ark_read import read_rows
    from datasets.kaldi_files import read_dict
    from losses import build_loss
    from recipe.experiment import exp_labels, load_exp_model
    from training.checkpoint import load_checkpoint

    exp = tmp_path / "teacher"
    shutil.copytree(user_exps["teacher"], exp, ignore=shutil.ignore_patterns("gradients"))
    p = run(["./b_extract.sh", "--teacher-exp", str(exp), "--method", "integrated_gradients", "--steps", "8", "--nj", "1"])
    assert p.returncode == 0, p.stderr[-2000:]
    out = exp / "gradients" / "integrated_gradients"
    want = np.load(out / "freq_weights.npy")
    import json

    d = Path(json.loads((out / "extract.json").read_text())["data_dir"])  # the data dir of the teacher's egs
    feats, u2s = read_dict(d / "feats.scp"), read_dict(d / "utt2spk")
    utts = [u for u, _ in kaldiio.load_scp_sequential(str(out / "maps.scp"))]
    model, cfg, _, head_state = load_exp_model(exp)
    labels = exp_labels(exp, cfg["inputs"])
    head = build_loss(cfg["loss"], model.emb_dim, len(labels))
    head.load_state_dict(head_state or load_checkpoint(exp / "checkpoints" / "last.pt")["head"])
    got = model_frequency_weights(
        model,
        [read_rows(feats[u], {}) for u in utts],
        "integrated_gradients",
        labels=[labels[u2s[u]] for u in utts],
        head=head,
        options={"steps": 8},
    )
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_freq_attention_in_front_of_a_foreign_model_trains(tmp_path):
    from models.frontend import FreqAttention, with_freq_attention

    v = np.linspace(1.0, 2.0, 40)
    np.save(tmp_path / "freq_weights.npy", v)
    net = with_freq_attention(band_model(out=5), tmp_path / "freq_weights.npy")
    att = net[0]
    assert isinstance(att, FreqAttention) and torch.allclose(att.prior, torch.tensor(v / v.max(), dtype=torch.float32))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.randn(8, 50, 40), torch.randint(0, 5, (8,))
    before = (att.w.item(), att.b.item())
    loss = nn.functional.cross_entropy(net(x), y)  # one training step of the wrapped model
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert att.w.grad is not None and (att.w.item(), att.b.item()) != before
    with pytest.raises(ValueError, match="negative value"):
        FreqAttention.from_weights(-v)


def test_a_pretrained_third_party_encoder():
    """resemblyzer's VoiceEncoder (pretrained weights in its package; CI skips this unless it is installed:
    pip install --no-deps resemblyzer==0.1.4 && pip install webrtcvad-wheels librosa)."""
    pytest.importorskip("librosa")
    resemblyzer = pytest.importorskip("resemblyzer")
    enc = resemblyzer.VoiceEncoder("cpu", verbose=False)
    rng = np.random.default_rng(0)
    mels = [np.abs(rng.normal(size=(int(n), 40))).astype(np.float32) for n in (120, 180, 240)]  # (frames, 40)
    for method in ("gradient", "integrated_gradients"):
        v = model_frequency_weights(enc, mels, method, options={"steps": 8} if method == "integrated_gradients" else None)
        assert v.shape == (40,) and np.isfinite(v).all() and (v > 0).all()
    assert torch.__version__.startswith("2.13")  # installing it left torch alone

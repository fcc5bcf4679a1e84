"""Models, the GFA attention layer, margin heads, registries and the experiment configs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, run
from losses.margin import AAMSoftmax, AMSoftmax, MarginScheduler, Softmax
from models.frontend import FreqAttention, FrontEnd
from models.priors import mel_prior, read_published
from models.info import count_params
from losses import LOSSES, build_loss
from models.registry import MODELS, build_model
from core.errors import ConfigError
from recipe.config import load_config
from recipe.experiment import resolve_prior, with_prior

torch.manual_seed(0)

REFERENCE = [  # (config, feat_dim, parameters of the body)
    ({"name": "ResCNN", "channels": [64, 128, 256]}, 161, 4.045e6),
    ({"name": "ResCNN", "channels": [32, 64, 128]}, 161, 1.079e6),
    ({"name": "ResCNN", "channels": [16, 32, 64]}, 161, 0.304e6),
    ({"name": "TDNN"}, 161, 4.695e6),
    ({"name": "TDNN", "channels": [256, 256, 256, 256, 768]}, 161, 1.787e6),
    ({"name": "ECAPA_TDNN", "channels": 512, "embedding_dim": 192}, 80, 6.19e6),
]


@pytest.mark.parametrize("cfg, feat_dim, ref", REFERENCE)
def test_parameter_counts_match_reference(cfg, feat_dim, ref):
    n = count_params(build_model(cfg, feat_dim))
    assert abs(n - ref) / ref < 0.01, (cfg, n)


def test_ecapa_512_is_speechbrain_size():
    assert count_params(build_model({"name": "ECAPA_TDNN", "channels": 512}, 80)) == 6_194_048


@pytest.mark.parametrize(
    "name, feat_dim, extra",
    [
        ("ResCNN", 161, {"channels": [16, 32, 64]}),
        ("ResCNN", 80, {"channels": [8, 16, 32, 64]}),
        ("TDNN", 161, {"channels": [64, 64, 64, 64, 128]}),
        ("TDNN", 30, {"channels": [64, 64, 64, 64, 128]}),
        ("ECAPA_TDNN", 80, {"channels": 128}),
        ("ECAPA_TDNN", 161, {"channels": 256}),
        ("ResNet34", 80, {"base_channels": 8}),
        ("ResNet34", 161, {"base_channels": 8}),
    ],
)
@pytest.mark.parametrize("frames", [200, 301])
def test_every_model_gives_batch_by_emb_and_input_gradients(name, feat_dim, extra, frames):
    assert name in MODELS
    model = build_model({"name": name, **extra}, feat_dim)
    x = torch.randn(3, frames, feat_dim, requires_grad=True)  # (batch, time, freq)
    emb = model(x)
    assert emb.shape == (3, model.emb_dim)
    emb.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.isfinite(x.grad).all()


def test_every_registered_model_is_covered():
    assert set(MODELS) == {"ResCNN", "TDNN", "ECAPA_TDNN", "ResNet34"}
    for c in (128, 256, 384, 512, 1024):
        build_model({"name": "ECAPA_TDNN", "channels": c}, 80)


def test_tdnn_embedding_layer_choice():
    x = torch.randn(2, 200, 161)
    dims = {"segment7": 256, "segment6": 512, "segment6_affine": 512}
    for layer, dim in dims.items():
        m = build_model({"name": "TDNN", "embedding_layer": layer}, 161).eval()
        assert m.embed(x).shape == (2, dim)
        assert m(x).shape == (2, 256)  # the classifier always sees segment7
    with pytest.raises(ConfigError, match="embedding_layer"):
        build_model({"name": "TDNN", "embedding_layer": "segment8"}, 161)


def test_mean_norm_first():
    m = build_model({"name": "ResCNN", "channels": [8, 16]}, 161).eval()
    x = torch.randn(2, 120, 161)
    shift = torch.randn(1, 1, 161) * 10  # a per-bin constant (channel) offset is removed
    assert torch.allclose(m(x), m(x + shift), atol=1e-4)


@pytest.mark.parametrize("prior", ["mel", "vox1_clean", "vox1_aug", "vox2_clean"])
def test_attention_gains_at_init(prior):
    layer = FrontEnd(161, {"prior": resolve_prior(prior, 161)}).attention
    g = layer.gains().detach()
    assert g.min() >= 1 / (1 + math.e) - 1e-6 and g.max() <= 1 / (1 + math.exp(-1)) + 1e-6  # [0.269, 0.731]
    assert 0.27 - 2e-3 <= g.min() and g.max() <= 0.73 + 2e-3  # the issue's [0.27, 0.73], rounded
    assert g.max() == pytest.approx(0.731, abs=1e-3)  # v / max(v) reaches 1
    assert layer.w.item() == 2.0 and layer.b.item() == -1.0
    ref = {"vox1_clean": (0.352, 0.458), "vox1_aug": (0.369, 0.448), "vox2_clean": (0.331, 0.422), "mel": (0.302, 0.367)}
    assert g.min().item() == pytest.approx(ref[prior][0], abs=2e-3)
    assert g.mean().item() == pytest.approx(ref[prior][1], abs=2e-3)


def test_attention_prior_is_a_buffer_or_learned():
    fixed = FreqAttention(np.linspace(1, 2, 161))
    assert "prior" in dict(fixed.named_buffers()) and "prior" in fixed.state_dict()
    assert {n for n, _ in fixed.named_parameters()} == {"w", "b"}
    learned = FreqAttention(np.linspace(1, 2, 161), learn_prior=True)
    assert {n for n, _ in learned.named_parameters()} == {"prior", "w", "b"}
    x = torch.randn(2, 50, 161)
    assert torch.allclose(fixed(x), x * torch.sigmoid(2 * fixed.prior - 1))


def test_mel_prior_matches_published_derivation():
    assert np.abs(mel_prior(161) - read_published("MEL_INIT_NORMALISED")).max() < 1e-6
    assert mel_prior(80).shape == (80,) and mel_prior(80)[0] == 1.0


def test_prior_files_and_bad_priors(tmp_path):
    v = np.abs(np.random.default_rng(0).standard_normal(161)) + 0.1
    np.save(tmp_path / "w.npy", v)
    np.savetxt(tmp_path / "w.txt", v)
    assert np.allclose(resolve_prior(str(tmp_path / "w.npy"), 161), v)
    assert np.allclose(resolve_prior(str(tmp_path / "w.txt"), 161), v)
    with pytest.raises(ValueError, match="161 values but the features have 80 bins"):
        resolve_prior(str(tmp_path / "w.npy"), 80)
    for bad, msg in (
        (np.where(np.arange(161) == 7, np.nan, v), "non-finite value at bin 7"),
        (np.where(np.arange(161) == 3, -1.0, v), "negative value at bin 3"),
        (np.zeros(161), "all values are zero"),
    ):
        np.save(tmp_path / "bad.npy", bad)
        with pytest.raises(ValueError, match=msg):
            resolve_prior(str(tmp_path / "bad.npy"), 161)
    with pytest.raises(ValueError, match="not one of mel, vox1_clean"):
        resolve_prior("vox3", 161)
    with pytest.raises(ValueError, match="161 values but the features have 80"):
        build_model({"name": "ResCNN", "attention": {"prior": read_published("VOX1_CLEAN")}}, 80)
    np.save(tmp_path / "grid.npy", np.ones((7, 23)))  # a 2-D array is not one value per bin
    with pytest.raises(ValueError, match="a 7x23 array, not one value per bin"):
        resolve_prior(str(tmp_path / "grid.npy"), 161)


def test_models_take_prior_values_not_names_or_paths(tmp_path):
    """Libraries open no file named by a config value: the entry point resolves the prior once."""
    np.save(tmp_path / "w.npy", np.ones(161))
    for spec in ("mel", str(tmp_path / "w.npy")):
        with pytest.raises(ConfigError, match="is a name or path; models take the values"):
            build_model({"name": "ResCNN", "channels": [4], "attention": {"prior": spec}}, 161)
    cfg = with_prior({"name": "ResCNN", "channels": [4], "attention": {"prior": "mel"}}, mel_prior(161))
    model = build_model(cfg, 161)
    assert torch.allclose(model.frontend.attention.prior, torch.tensor(mel_prior(161), dtype=torch.float32))


def test_wrong_input_dimension_is_a_clear_error():
    m = build_model({"name": "ResCNN", "channels": [8]}, 161)
    with pytest.raises(ValueError, match=r"expected input \(batch, time, 161\), got \(2, 100, 80\)"):
        m(torch.randn(2, 100, 80))


def test_aam_with_zero_margin_is_cross_entropy_on_scaled_cosine():
    head = AAMSoftmax(16, 10, margin=0.0, scale=30.0)
    emb, labels = torch.randn(8, 16), torch.randint(0, 10, (8,))
    loss, _ = head.loss(emb, labels)
    ref = F.cross_entropy(30.0 * F.linear(F.normalize(emb), F.normalize(head.head.weight)), labels)
    assert torch.allclose(loss, ref, atol=1e-5)


def test_aam_and_am_target_logits():
    aam, am = AAMSoftmax(4, 3, margin=0.2), AMSoftmax(4, 3, margin=0.2)
    cos = torch.tensor([0.9, 0.5, 0.0, -0.5])
    theta = torch.acos(cos)
    assert torch.allclose(aam.target_logit(cos), torch.cos(theta + 0.2), atol=1e-6)
    assert torch.allclose(am.target_logit(cos), cos - 0.2)
    # theta + m > pi: monotone continuation, never larger than cos itself
    near = torch.tensor([-0.99, -1.0])
    assert (aam.target_logit(near) < near).all()
    easy = AAMSoftmax(4, 3, margin=0.2, easy_margin=True)
    assert torch.allclose(easy.target_logit(torch.tensor([-0.5])), torch.tensor([-0.5]))


def test_aam_finite_gradients_at_cos_plus_minus_one():
    head = AAMSoftmax(4, 2, margin=0.2)
    with torch.no_grad():
        head.head.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    emb = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]], requires_grad=True)
    loss, _ = head.loss(emb, torch.tensor([0, 0]))  # cos_y = +1 and -1
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


def test_softmax_head_and_margin_scheduler():
    sm = Softmax(8, 4)
    loss, logits = sm.loss(torch.randn(5, 8), torch.randint(0, 4, (5,)))
    assert logits.shape == (5, 4) and loss > 0
    head = AAMSoftmax(8, 4, margin=0.2)
    sched = MarginScheduler(head, warmup_steps=10, start_step=5)
    assert head.margin == 0.0
    for _ in range(10):
        sched.step()
    assert head.margin == pytest.approx(0.1)
    for _ in range(10):
        sched.step()
    assert head.margin == pytest.approx(0.2)
    other = MarginScheduler(AAMSoftmax(8, 4, margin=0.2), warmup_steps=10, start_step=5)
    other.load_state_dict(sched.state_dict())
    assert other.head.margin == pytest.approx(0.2)


def test_registries_reject_unknown_names_and_args():
    with pytest.raises(ConfigError, match="unknown 'ResCNNN'; valid: ResCNN, TDNN, ECAPA_TDNN, ResNet34"):
        build_model({"name": "ResCNNN"}, 161)
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) \['chanels'\] for ResCNN; valid: channels"):
        build_model({"name": "ResCNN", "chanels": [8]}, 161)
    with pytest.raises(ConfigError, match="valid: Softmax, AMSoftmax, AAMSoftmax"):
        build_loss({"name": "Arc"}, 8, 2)
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) \['m'\]"):
        build_loss({"name": "AAMSoftmax", "m": 0.2}, 8, 2)
    assert set(LOSSES) == {"Softmax", "AMSoftmax", "AAMSoftmax"}


@pytest.mark.parametrize("conf", sorted(p.name for p in (ROOT / "conf").glob("*.yaml")))
def test_every_conf_yaml_builds(conf):
    cfg = load_config(ROOT / "conf" / conf)
    att = cfg["model"].get("attention")
    prior = resolve_prior(att["prior"], cfg["data"]["feat_dim"]) if att else None
    model = build_model(with_prior(cfg["model"], prior), cfg["data"]["feat_dim"])
    head = build_loss(cfg["loss"], model.emb_dim, 20)
    emb = model.eval()(torch.randn(1, 200, cfg["data"]["feat_dim"]))
    assert head(emb).shape == (1, 20)


def test_config_errors_and_overrides(tmp_path):
    base = ROOT / "conf" / "rescnn32.yaml"
    cfg = load_config(base, ["model.dropout=0.3", "model.attention.prior=mel", "train.epochs=3"])
    assert cfg["model"]["dropout"] == 0.3 and cfg["model"]["attention"] == {"prior": "mel"}
    assert cfg["train"]["epochs"] == 3
    for override, msg in (
        ("train.epoch=3", "unknown key 'epoch' in config.train; valid: epochs"),
        ("model.dropot=0.1", "unknown key 'dropot' in config.model; valid: name, channels"),
        ("optimizer.lr=1", "unknown key 'optimizer' in config; valid: data, model, loss, margin_warmup, optim"),
        ("model.attention.priors=mel", "unknown key 'priors' in config.model.attention"),
        ("train.epochs", "expected a.b=value"),
    ):
        with pytest.raises(ConfigError, match=msg):
            load_config(base, [override])
    bad = tmp_path / "bad.yaml"
    bad.write_text(base.read_text().replace("  epochs: 50", "  epochs: 50\n  epoch: 4"))
    with pytest.raises(ConfigError, match="bad.yaml.train: unknown key 'epoch'"):
        load_config(bad)
    bad.write_text(base.read_text().replace("name: SGD", "name: Adagrad"))
    with pytest.raises(ConfigError, match="optim.name 'Adagrad'; valid: SGD, Adam, AdamW"):
        load_config(bad)


def test_keys_are_checked_per_optimiser_and_scheduler(tmp_path):
    base = ROOT / "conf" / "demo_rescnn.yaml"  # Adam + CosineAnnealingLR
    cfg = load_config(base)
    assert set(cfg["optim"]) == {"name", "lr", "betas", "weight_decay", "decay_norm_bias"}
    assert set(cfg["scheduler"]) == {"name", "min_lr", "warmup"}
    for override, msg in (
        ("scheduler.patience=2", "unknown key 'patience' in config.scheduler; valid: name, min_lr, warmup"),
        ("optim.momentum=0.9", "unknown key 'momentum' in config.optim; valid: name, lr, betas"),
    ):
        with pytest.raises(ConfigError, match=msg):
            load_config(base, [override])
    bad = tmp_path / "bad.yaml"
    bad.write_text(base.read_text().replace("  name: CosineAnnealingLR", "  name: CosineAnnealingLR\n  patience: 2"))
    with pytest.raises(ConfigError, match="bad.yaml.scheduler: unknown key 'patience' for CosineAnnealingLR"):
        load_config(bad)
    sgd = load_config(base, ["optim.name=SGD", "scheduler.name=ReduceLROnPlateau"])  # the new names' keys
    assert sgd["optim"]["momentum"] == 0.9 and sgd["scheduler"]["patience"] == 2
    assert sgd["optim"]["lr"] == cfg["optim"]["lr"] == 2.0e-3  # the file's value, kept


@pytest.mark.parametrize(
    "override, msg",
    [
        ("optim.lr=fast", "optim.lr: expected a number, got 'fast'"),
        ("optim.lr=-0.1", r"optim.lr: -0.1 is out of range \(must be > 0.0\)"),
        ("train.epochs=abc", "train.epochs: expected an integer, got 'abc'"),
        ("train.epochs=-1", "train.epochs: -1 is out of range"),
        ("train.batch_size=0", "train.batch_size: 0 is out of range"),
        ("train.channels_last=maybe", "train.channels_last: expected true or false, got 'maybe'"),
        ("train.compile=1", "train.compile: expected true or false, got 1"),
        ("train.amp=fp8", "train.amp: 'fp8'; valid: none, bf16, fp16"),
        ("model.dropout=high", "model.dropout: expected a number, got 'high'"),
        ("loss.margin=[1]", r"loss.margin: expected a number, got \[1\]"),
        ("scheduler.min_lr=x", "scheduler.min_lr: expected a number"),
    ],
)
def test_config_values_have_types_and_ranges(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(ROOT / "conf" / "demo_rescnn.yaml", [override])


def test_model_info_command():
    p = run(["python", "-m", "steps.model_info", "--config", "conf/rescnn64.yaml"])
    assert p.returncode == 0, p.stderr
    assert "body 4,044,672 (4.045 M), head 310,016 for 1211 classes" in p.stdout
    assert "MACs for 300 frames:" in p.stdout and "stages.3.gate.time_conv" in p.stdout
    p = run(["python", "-m", "steps.model_info", "--config", "conf/rescnn64.yaml", "--set", "model.widht=3"])
    assert p.returncode == 1 and "unknown key 'widht'" in p.stderr


def test_renamed_paper_configs_say_their_new_name():
    """The paper configs with a prior are <model>_gfa-<prior>.yaml; an old name meets the new one."""
    from recipe.config import RENAMED

    assert RENAMED and all((ROOT / "conf" / new).exists() and not (ROOT / "conf" / old).exists() for old, new in RENAMED.items())
    with pytest.raises(ConfigError, match=r"conf/rescnn32_clean.yaml: renamed to conf/rescnn32_gfa-vox1_clean.yaml"):
        load_config("conf/rescnn32_clean.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("conf/rescnn33_clean.yaml")


def test_tf_gate_is_the_papers_mean_of_two_gated_copies():
    """TFGate computes x * (t/2 + f/2) in one product; the paper's form is 0.5 * (x*t + x*f)."""
    from models.rescnn import TFGate

    torch.manual_seed(0)
    gate = TFGate(4).double()
    x = torch.randn(3, 4, 20, 9, dtype=torch.float64, requires_grad=True)  # (batch, c, time, freq)
    t = torch.sigmoid(gate.time_conv(x.mean(dim=3, keepdim=True)))
    f = torch.sigmoid(gate.freq_conv(x.mean(dim=2, keepdim=True)))
    want = 0.5 * (x * t + x * f)
    got = gate(x)
    assert torch.allclose(got, want, atol=1e-12)
    (g_want,) = torch.autograd.grad(want.square().sum(), x)
    (g_got,) = torch.autograd.grad(got.square().sum(), x)
    assert torch.allclose(g_got, g_want, atol=1e-12)

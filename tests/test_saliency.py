"""Saliency methods: Captum oracle, completeness, 1-D refusal, model randomisation, planted band."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from conftest import BAND, small_model
from gradients.cams import NoFrequencyAxisError
from gradients.methods import METHODS, long_utterance_map, method_options, saliency_maps
from gradients.input_gradients import completeness_delta
from gradients.reduce import frequency_weights, utterance_profile
from gradients.targets import CosineOutputs, make_target

captum = pytest.importorskip("captum.attr")


@pytest.mark.parametrize("name", ["ResCNN", "TDNN", "ECAPA_TDNN"])
@pytest.mark.parametrize("baseline", ["zero", "time_mean"])
def test_integrated_gradients_matches_captum(name, baseline):
    model, head = small_model(name)
    x, y = torch.randn(3, 80, 161) * 2 + 1, torch.tensor([0, 3, 5])
    fn = make_target("cosine", model, head, y)
    ours = saliency_maps("integrated_gradients", model, x, fn, {"steps": 50, "baseline": baseline, "internal_batch_size": 37})
    base = x.mean(dim=1, keepdim=True).expand_as(x) if baseline == "time_mean" else torch.zeros_like(x)
    ref = captum.IntegratedGradients(CosineOutputs(model, head)).attribute(
        x, baselines=base, target=y, n_steps=50, method="gausslegendre"
    )
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    assert rel <= 1e-4, rel


def test_grad_cam_matches_captum_layer_grad_cam():
    model, head = small_model("ResCNN")
    x, y = torch.randn(2, 64, 161), torch.tensor([1, 2])
    ours = saliency_maps("grad_cam", model, x, make_target("cosine", model, head, y), {"layer": "stages.7"})
    wrapped = CosineOutputs(model, head)
    lgc = captum.LayerGradCam(wrapped, model.stages[7]).attribute(x, target=y, relu_attributions=True)
    ref = captum.LayerAttribution.interpolate(lgc, (64, 161), interpolate_mode="bilinear")[:, 0]
    assert torch.allclose(ours, ref, atol=1e-6 * max(1.0, ref.abs().max().item()))


@pytest.mark.parametrize("name", ["TDNN", "ECAPA_TDNN"])
@pytest.mark.parametrize("method", ["grad_cam", "grad_cam_pp", "layer_cam", "fullgrad"])
def test_cams_refuse_1d_models(name, method):
    model, head = small_model(name)
    fn = make_target("cosine", model, head, torch.tensor([0]))
    with pytest.raises(NoFrequencyAxisError, match="no frequency axis"):
        saliency_maps(method, model, torch.randn(1, 60, 161), fn)


def test_registry_entries_match_their_functions():
    """Each method is declared once: its options and runtime inputs are its function's arguments, and
    an option shared by several methods has one type (cam_extract makes one flag of it)."""
    import inspect
    from steps.cam_extract import build_parser, option_flags

    for name, m in METHODS.items():
        params = set(inspect.signature(m.fn).parameters)
        assert set(method_options(name)) <= params, name
    flags = {a.dest for a in build_parser()._actions}
    assert set(option_flags()) <= flags


def test_every_method_runs_and_bad_options_fail():
    model, head = small_model("ResCNN")
    x, y = torch.randn(2, 64, 161), torch.tensor([1, 2])
    fn = make_target("cosine", model, head, y)
    refs = [torch.randn(50, 161) for _ in range(3)]
    extra = {
        "expected_gradients": {"references": refs, "n_samples": 4},
        "gradient_shap": {"references": refs},
        "smoothgrad": {"n_samples": 3},
        "integrated_gradients": {"steps": 8},
        "mask": {"iterations": 3},
        "integrated_gradients_time_mean": {"steps": 8},
        "igos": {"iterations": 2, "steps": 2},
    }
    for m in METHODS:
        out = saliency_maps(m, model, x, fn, extra.get(m))
        assert out.shape == x.shape and torch.isfinite(out).all(), m
    mean_ig = saliency_maps("integrated_gradients", model, x, fn, {"steps": 8, "baseline": "time_mean"})
    assert torch.equal(saliency_maps("integrated_gradients_time_mean", model, x, fn, {"steps": 8}), mean_ig)
    again = saliency_maps("expected_gradients", model, x, fn, extra["expected_gradients"])
    assert torch.equal(again, saliency_maps("expected_gradients", model, x, fn, extra["expected_gradients"]))
    with pytest.raises(ValueError, match="unknown option"):
        saliency_maps("gradient", model, x, fn, {"steps": 3})
    with pytest.raises(ValueError, match="unknown saliency method"):
        saliency_maps("lime", model, x, fn)
    with pytest.raises(ValueError, match="eval"):
        saliency_maps("gradient", model.train(), x, fn)
    with pytest.raises(FloatingPointError):
        frequency_weights([utterance_profile(np.full((3, 161), np.nan))])


def test_long_utterances_are_attributed_in_chunks_covering_every_frame():
    model, head = small_model("ResCNN")
    x, y = torch.randn(250, 161) * 2 + 1, torch.tensor([2])
    fn_for = lambda n: make_target("cosine", model, head, y.repeat(n))  # noqa: E731
    out = long_utterance_map("gradient", model, x, fn_for, 100)  # chunks 0-84, 84-168, 166-250
    assert out.shape == x.shape and torch.isfinite(out).all()
    alone = saliency_maps("gradient", model, x[84:168][None], fn_for(1))[0]
    last = saliency_maps("gradient", model, x[166:250][None], fn_for(1))[0]
    assert torch.allclose(out[90:160], alone[6:76], atol=1e-6)  # frames of one chunk only
    assert torch.allclose(out[166:168], (alone[82:84] + last[:2]) / 2, atol=1e-6)  # the overlap, averaged
    same = long_utterance_map("gradient", model, x[:90], fn_for, 100)  # one chunk: the plain map
    assert torch.allclose(same, saliency_maps("gradient", model, x[None, :90], fn_for(1))[0], atol=1e-6)


def test_pick_device():
    from core.cli import pick_device

    assert pick_device("cpu", "0,1", 3).type == "cpu"
    if torch.cuda.is_available():
        assert pick_device("cuda", "0", 2) == torch.device("cuda:0")
    else:
        assert pick_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            pick_device("cuda")


def test_softmax_and_verification_targets():
    model, head = small_model("ResCNN")
    x = torch.randn(2, 64, 161)
    p = make_target("softmax", model, head, torch.tensor([0, 1]))(x, torch.arange(2))
    assert ((p > 0) & (p < 1)).all()
    ref = model(x).detach()
    v = make_target("verification", model, references=ref)(x, torch.arange(2))
    assert torch.allclose(v, torch.ones(2), atol=1e-5)  # an embedding against itself


# ---------------------------------------------------------------- the planted-band teacher (conftest.planted)


def weights(p, method, model):
    opts = {
        "gradient": {},
        "integrated_gradients": {"internal_batch_size": 100},
        "occlusion": {},
        "expected_gradients": {"references": p["refs"], "n_samples": 30, "internal_batch_size": 100},
    }[method]
    maps = saliency_maps(method, model, p["x"], make_target("cosine", model, p["head"], p["y"]), opts)
    return frequency_weights([utterance_profile(m.numpy()) for m in maps])


@pytest.mark.parametrize("method", ["gradient", "integrated_gradients", "expected_gradients", "occlusion"])
def test_planted_band_is_found(planted, method):
    assert planted["acc"] > 0.8
    hz = np.arange(161) * 50
    inside, outside = (hz >= BAND[0]) & (hz <= BAND[1]), (hz < BAND[0]) | (hz > BAND[1])
    outside[0] = False  # bin 0 is log energy
    v = weights(planted, method, planted["model"])
    ratio = v[inside].mean() / v[outside].mean()
    control = weights(planted, method, planted["untrained"])
    control_ratio = control[inside].mean() / control[outside].mean()
    print(f"{method}: peak {hz[np.argmax(v)]} Hz, in/out {ratio:.2f}; untrained copy {control_ratio:.2f}")
    assert inside[np.argmax(v)], hz[np.argmax(v)]
    assert ratio >= 2.0
    assert ratio >= control_ratio + 1.0


def test_completeness_at_50_steps(planted):
    model, head = planted["model"], planted["head"]
    fn = make_target("cosine", model, head, planted["y"])
    attr = saliency_maps("integrated_gradients", model, planted["x"], fn, {"steps": 50, "internal_batch_size": 100})
    delta = completeness_delta(fn, planted["x"], attr, "zero")
    idx = torch.arange(len(planted["y"]))
    with torch.no_grad():
        gap = fn(planted["x"], idx) - fn(torch.zeros_like(planted["x"]), idx)
    rel = (delta.abs().sum() / gap.abs().sum()).item()  # over the utterances of the batch
    worst = (delta.abs() / gap.abs()).max().item()
    print(f"IG completeness error at 50 steps: {rel:.2e} overall, {worst:.2e} worst utterance")
    assert rel <= 0.01 and worst <= 0.02


@pytest.mark.slow
def test_model_randomisation_changes_the_maps(planted):
    """Adebayo et al.: maps of a re-initialised copy must not resemble the trained model's."""
    for method, bound in (("gradient", 0.3), ("integrated_gradients", 0.5)):
        maps = {}
        for tag in ("model", "untrained"):
            m = planted[tag]
            maps[tag] = saliency_maps(
                method,
                m,
                planted["x"],
                make_target("cosine", m, planted["head"], planted["y"]),
                {"internal_batch_size": 100} if method != "gradient" else {},
            ).abs()
        rho = np.mean([spearmanr(a.flatten(), b.flatten())[0] for a, b in zip(maps["model"], maps["untrained"])])
        profile = spearmanr(weights(planted, method, planted["model"])[1:], weights(planted, method, planted["untrained"])[1:])[0]
        print(f"{method}: Spearman trained vs re-initialised: maps {rho:.3f}, per-bin profile {profile:.3f}")
        assert rho < bound


@pytest.mark.parametrize("method", ["integrated_gradients", "expected_gradients", "smoothgrad"])
def test_internal_batch_size_bounds_memory_not_the_maps(method):
    """cam_extract's default internal batch differs on CPU and GPU: the maps must not depend on it."""
    model, head = small_model("ResCNN")
    x, y = torch.randn(2, 64, 161), torch.tensor([1, 2])
    fn = make_target("cosine", model, head, y)
    opts = {
        "integrated_gradients": {"steps": 8},
        "smoothgrad": {"n_samples": 5},
        "expected_gradients": {"references": [torch.randn(50, 161) for _ in range(3)], "n_samples": 6},
    }[method]
    maps = []
    for rows in (3, 16, None):  # None: every path point of both utterances in one batch
        gen = {"generator": torch.Generator().manual_seed(5)} if method != "integrated_gradients" else {}
        maps.append(saliency_maps(method, model, x, fn, {**opts, **gen, "internal_batch_size": rows}))
    scale = maps[-1].abs().max()
    assert all((m - maps[-1]).abs().max() <= 1e-6 * scale for m in maps[:2]), method

"""GPU paths, skipped where PyTorch sees no CUDA device (CI): saliency maps on CUDA equal the CPU's,
and the recipe's GPU options (c_train.sh --gpus, b_extract.sh --gpus) run end to end and agree with
the CPU run."""

import copy
import shutil

import numpy as np
import pytest
import torch

from conftest import small_model
from gradients.methods import METHODS, saliency_maps
from gradients.targets import make_target

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def full_fp32():
    """Compare against the CPU in full float32 (PyTorch lets cuDNN use TF32 by default)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@pytest.mark.parametrize("name", ["ResCNN", "ECAPA_TDNN"])
def test_every_method_on_cuda_equals_cpu(name):
    model, head = small_model(name)
    x, y = torch.randn(2, 64, 161) * 2 + 1, torch.tensor([1, 4])
    refs = [torch.randn(50, 161) for _ in range(3)]
    gpu_model, gpu_head = copy.deepcopy(model).cuda(), copy.deepcopy(head).cuda()
    f64_model, f64_head = copy.deepcopy(model).double(), copy.deepcopy(head).double()
    for method in METHODS:
        if name == "ECAPA_TDNN" and METHODS[method].needs_model:
            continue  # CAM methods refuse 1-D models (tested on the CPU)
        opts = {
            "expected_gradients": {"references": refs, "n_samples": 6},
            "gradient_shap": {"references": refs},
            "smoothgrad": {"n_samples": 3},
            "integrated_gradients": {"steps": 16, "internal_batch_size": 7},
            "mask": {"iterations": 3},
            "igos": {"iterations": 2, "steps": 3},
        }
        for key in ("expected_gradients", "gradient_shap", "smoothgrad"):
            if method == key:
                opts[key]["generator"] = torch.Generator().manual_seed(5)
        maps = []
        for m, h, inputs in ((f64_model, f64_head, x.double()), (model, head, x), (gpu_model, gpu_head, x.cuda())):
            if method in opts and "generator" in opts[method]:
                opts[method]["generator"] = torch.Generator().manual_seed(5)  # the same draws each time
            maps.append(saliency_maps(method, m, inputs, make_target("cosine", m, h, y), opts.get(method)))
        ref, cpu, gpu = maps
        assert gpu.is_cuda
        rel = lambda z, ref=ref: ((z.double().cpu() - ref).abs().max() / ref.abs().max()).item()  # noqa: E731
        # Grad-CAM++ divides by sums that come near zero: float32 itself is ~2e-3 off float64 there
        # the mask optimisers clamp after every step: float32 differences can move a few entries further
        assert rel(gpu) <= max(1e-3 if method in ("mask", "igos") else 1e-4, 3 * rel(cpu)), (method, rel(gpu), rel(cpu))


def test_recipe_on_gpu(tmp_path):
    """Teacher trained with c_train.sh --gpus 0; b_extract.sh --gpus 0 gives the CPU's weights."""
    from conftest import run, tiny_configs
    from datasets.synthetic import generate_corpus

    data = tmp_path / "synth"
    generate_corpus(data, "tiny", seed=3)
    assert run(f"./a_prep_egs.sh --data {data} --num-pairs 100 --num-frames 120 --input-per-spks 16").returncode == 0
    teacher, _ = tiny_configs(tmp_path)
    exp = tmp_path / "teacher"
    p = run(f"./c_train.sh --data {data} --config {teacher} --exp-dir {exp} --stop-stage 3 --gpus 0")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "device cuda" in (exp / "log" / "train.log").read_text()
    assert "EER" in (exp / "results.md").read_text()
    shutil.copytree(exp, tmp_path / "teacher_cpu")
    p = run(f"./b_extract.sh --data {data} --teacher-exp {exp} --steps 8 --gpus 0")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    p = run(f"./b_extract.sh --data {data} --teacher-exp {tmp_path}/teacher_cpu --steps 8")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    rel = "gradients/integrated_gradients/freq_weights.npy"
    gpu, cpu = np.load(exp / rel), np.load(tmp_path / "teacher_cpu" / rel)
    assert np.allclose(gpu, cpu, rtol=1e-4, atol=1e-6 * cpu.max()), np.abs(gpu - cpu).max()

"""bench/train.py --compile: eager training against train.compile (torch.compile of the model) and
train.channels_last, in one process, from the same initial weights on the same batches.

Speed: the demo teacher's model and optimiser (ResCNN 16/32/64, Adam 1e-3, batch --batch), crops of
200, 250 or 300 frames; each shape's first step (where torch.compile compiles) is counted apart as
warm-up, the other steps are timed. Sameness: --steps training steps of each variant in float64 (batch
8, 250 frames), the largest difference of the per-step loss to eager's; float32 trajectories are printed too: there
Adam's first step (lr * sign(g)) and later steps amplify rounding differences of any kernel change, so
they drift apart whatever the variant.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from losses import build_loss
from models.registry import build_model
from core.allocator import tune_allocator
from training.trainer import Net

VARIANTS = {
    "eager": (False, False),
    "channels_last": (False, True),
    "compile": (True, False),
    "compile + channels_last": (True, True),
}
CROPS = (200, 250, 300)


def batches(n: int, batch: int, crops=CROPS, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((batch, int(rng.choice(crops)), 161)) * 3 + 5  # (batch, time, freq)
        out.append((torch.from_numpy(x), torch.from_numpy(rng.integers(0, 40, batch))))
    return out


def train(compiled: bool, channels_last: bool, data, dtype) -> tuple[list[float], float, float, int]:
    """(per-step losses, warm-up seconds (first step of each shape), timed seconds, timed samples)."""
    torch._dynamo.reset()  # each variant compiles afresh
    torch.manual_seed(0)
    model = build_model({"name": "ResCNN", "channels": [16, 32, 64], "embedding_dim": 128}, 161)
    net = Net(model, build_loss({"name": "AAMSoftmax"}, 128, 40)).to(dtype)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if compiled:
        model.compile()  # as train.compile does: in place, the state_dict keeps its names
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses, seen, warm, timed, n = [], set(), 0.0, 0.0, 0
    for x, y in data:
        t = time.perf_counter()
        loss, _ = net(x.to(dtype), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        dt = time.perf_counter() - t
        if x.shape[1] in seen:
            timed, n = timed + dt, n + len(y)
        else:
            seen.add(x.shape[1])
            warm += dt
    return losses, warm, timed, n


def compare_compiled(a) -> None:
    allocator = tune_allocator()
    steps = a.steps or 50
    fast, exact = batches(a.speed_steps, a.batch), batches(steps, 8, crops=(250,), seed=1)
    print(
        f"demo teacher model (ResCNN 16/32/64, no dropout), Adam 1e-3, batch {a.batch}, crops {CROPS}, "
        f"{torch.get_num_threads()} threads, allocator {allocator}, torch {torch.__version__}"
    )
    rows = {}
    for name, (compiled, channels_last) in VARIANTS.items():
        try:
            _, warm, t, n = train(compiled, channels_last, fast, torch.float32)
            l64 = train(compiled, channels_last, exact, torch.float64)[0]
            l32 = train(compiled, channels_last, exact, torch.float32)[0]
        except Exception as e:  # noqa: BLE001 (torch.compile needs a C++ compiler: report and go on)
            print(f"  {name}: failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
            continue
        rows[name] = (n / t, warm, l64, l32)
        print(f"  {name}: {n / t:.1f} samples/s, warm-up {warm:.0f} s", flush=True)
    speed, _, e64, e32 = rows["eager"]
    print(
        f"\n| training | samples/s | vs eager | warm-up s ({len(CROPS)} shapes) | max loss diff, {steps} steps "
        f"float64 | same, float32 |"
    )
    print("|---|---|---|---|---|---|")
    for name, (s, warm, l64, l32) in rows.items():
        d64 = max(abs(p - q) for p, q in zip(l64, e64))
        d32 = max(abs(p - q) for p, q in zip(l32, e32))
        print(f"| {name} | {s:.1f} | {s / speed:.2f}x | {warm:.0f} | {d64:.1e} | {d32:.1e} |")

"""A plain speaker-embedding CNN, as a practitioner would write it in an afternoon: the yardstick the
recipe's training is measured against (bench/seeds.py). Nothing here is tuned to beat the recipe.

    python -m bench.reference_cnn --egs-dir data/synth/egs/spect --test-dir data/synth/test \\
        --minutes 5 [--seed 1] [--threads 2]

Reads the egs' feats.scp / utt2label with kaldiio, trains 4 conv blocks + mean/std pooling + a 128-dim
embedding with an AAM-softmax head (m 0.2, s 30, from step 0), Adam 1e-3, a 20-step linear warm-up and
cosine decay over the wall-clock budget (the LR follows the elapsed share of the minutes), 200-frame
crops, batch 64; then embeds every test utterance whole and prints the EER of <test-dir>/trials.
"""

from __future__ import annotations

import argparse
import math
import time

import kaldiio
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evaluation.metrics import verification_metrics


def block(c_in, c_out, stride):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class PlainCNN(nn.Module):
    def __init__(self, feat_dim: int, emb: int = 128, widths=(16, 32, 64, 96)):
        super().__init__()
        layers, c = [], 1
        for i, w in enumerate(widths):
            layers.append(block(c, w, 1 if i == 0 else 2))
            c = w
        self.body = nn.Sequential(*layers)
        freq_out = feat_dim
        for _ in widths[1:]:
            freq_out = (freq_out + 1) // 2
        self.fc = nn.Linear(2 * c * freq_out, emb)
        self.bn = nn.BatchNorm1d(emb)

    def forward(self, x):  # (batch, time, freq)
        x = x - x.mean(dim=1, keepdim=True)  # per-utterance mean normalisation
        h = self.body(x.unsqueeze(1))  # (batch, c, time', freq')
        h = h.permute(0, 2, 1, 3).flatten(2)  # (batch, time', c * freq')
        stats = torch.cat([h.mean(1), h.std(1)], dim=1)  # (batch, 2 * c * freq')
        return self.bn(self.fc(stats))


class AAM(nn.Module):
    def __init__(self, emb: int, classes: int, m: float = 0.2, s: float = 30.0):
        super().__init__()
        self.w = nn.Parameter(torch.randn(classes, emb) * 0.01)
        self.m, self.s = m, s

    def forward(self, e, y):
        cos = F.linear(F.normalize(e), F.normalize(self.w)).clamp(-1 + 1e-7, 1 - 1e-7)
        target = torch.cos(torch.acos(cos) + self.m)
        onehot = F.one_hot(y, cos.shape[1]).bool()
        logits = self.s * torch.where(onehot, target, cos)
        return F.cross_entropy(logits, y), logits


def load_egs(egs_dir: str):
    labels = dict(line.split() for line in open(f"{egs_dir}/train/utt2label"))
    feats = {k: m for k, m in kaldiio.load_scp_sequential(f"{egs_dir}/train/feats.scp")}
    keys = sorted(feats)
    return np.stack([feats[k] for k in keys]).astype(np.float32), np.array([int(labels[k]) for k in keys])


def batches(x, y, rng, batch=64, crop=200):
    while True:
        for idx in np.array_split(rng.permutation(len(x)), len(x) // batch):
            starts = rng.integers(0, x.shape[1] - crop + 1, size=len(idx))
            xb = np.stack([x[i, s : s + crop] for i, s in zip(idx, starts)])
            yield torch.from_numpy(xb), torch.from_numpy(y[idx])


def lr_at(step, frac, warm=20, lr=1e-3):
    """Linear warm-up over ``warm`` steps, then cosine over the elapsed share ``frac`` of the time budget."""
    if step < warm:
        return lr * (step + 1) / warm
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


def train(x, y, seconds: float, seed: int):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, head = PlainCNN(x.shape[2]), AAM(128, int(y.max()) + 1)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-3)
    it, t0, step = batches(x, y, rng), time.time(), 0
    while time.time() - t0 < seconds:  # the schedule follows the clock, so a load that changes is no matter
        for g in opt.param_groups:
            g["lr"] = lr_at(step, (time.time() - t0) / seconds)
        xb, yb = next(it)
        loss, _ = head(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            print(
                f"reference: step {step}, {(time.time() - t0) / 60:.1f} of {seconds / 60:.1f} min, loss {loss.item():.3f}",
                flush=True,
            )
    return model, step, time.time() - t0


@torch.no_grad()
def score(model, test_dir: str) -> dict:
    model.eval()
    emb = {
        k: F.normalize(model(torch.from_numpy(np.asarray(m, np.float32))[None]), dim=1)[0]
        for k, m in kaldiio.load_scp_sequential(f"{test_dir}/feats.scp")
    }
    trials = [line.split() for line in open(f"{test_dir}/trials")]
    scores = np.array([float(emb[a] @ emb[b]) for a, b, _ in trials])
    labels = np.array([t == "target" for _, _, t in trials])
    return verification_metrics(scores, labels)


def run(egs_dir: str, test_dir: str, seconds: float, seed: int = 1) -> dict:
    x, y = load_egs(egs_dir)
    model, steps, wall = train(x, y, seconds, seed)
    return {**score(model, test_dir), "steps": steps, "train_seconds": wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--egs-dir", required=True)
    p.add_argument("--test-dir", required=True)
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    r = run(a.egs_dir, a.test_dir, 60 * a.minutes, a.seed)
    print(
        f"reference: EER {100 * r['eer']:.2f} % minDCF(0.01) {r['mindcf_0.01']:.4f} after {r['steps']} steps "
        f"in {r['train_seconds'] / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

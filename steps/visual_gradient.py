"""Saliency maps -> frequency weight vector + plots (GFA step 2, ``gradients/visual_gradient.py``).

    python gradients/visual_gradient.py --exp-dir exp/demo_rescnn [--method integrated_gradients]
        [--reduction abs|relu|signed] [--bin0 keep|neighbour|mean] [--examples 3]

Reads <exp>/gradients/<method>/maps.scp (and the data dir recorded by cam_extract for the input
spectra) and writes <exp>/gradients/<method>/freq_weights.{npy,txt,json} and, in <exp>/plots/,
weights_<method>.{png,pdf} (weights with the mean input spectrum, against the bins' frequencies from
the experiment's own feature conf: Hz for spectrograms, mel-filter centres for fbank) and
maps_<method>.{png,pdf} (example maps; the top 5 % points over the spectrogram, as in the paper).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import kaldiio
import numpy as np

from datasets.ark_read import read_rows
from datasets.atomic import atomic_path, atomic_write_bytes
from datasets.feat_opts import OptionError, read_options
from datasets.kaldi_feats import bin_axis
from datasets.kaldi_files import DataDirError, atomic_write_text, read_dict
from models.registry import ConfigError
from steps.experiment import npy_bytes, read_exp
from steps.runtime import positive_int
from gradients.reduce import BIN0, REDUCTIONS, frequency_weights, top_fraction_mask, utterance_profile


def feature_axes(exp: Path, inputs: dict, n_bins: int) -> tuple[np.ndarray, str, float]:
    """(value of each bin, axis label, frames per second) from the experiment's own feature conf."""
    conf = exp / inputs["feat_conf"] if inputs.get("feat_conf") else None
    if conf is None:
        print(f"visual_gradient: warning: {exp} records no feature conf; axes assume Kaldi's "
              f"{inputs['feat_type']} defaults", file=sys.stderr)
    opts, _ = read_options(inputs["feat_type"], conf)
    axis, label = bin_axis(opts)
    if len(axis) != n_bins:
        print(f"visual_gradient: warning: {n_bins} bins but the feature options give {len(axis)}; "
              "plotting against the bin index", file=sys.stderr)
        return np.arange(n_bins, dtype=np.float64), "feature bin", 1000.0 / opts.frame.frame_shift
    return axis, label, 1000.0 / opts.frame.frame_shift


def plot(exp: Path, method: str, v: np.ndarray, mean_spec: np.ndarray, examples: list, axes) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x, label, fps = axes
    ok = np.isfinite(x)  # the log-energy column has no frequency
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(x[ok], v[ok] / v.max(), color="C0", label=f"{method} weight (/max)")
    ax.set_xlabel(label)
    ax.set_ylabel("weight / max")
    ax2 = ax.twinx()
    ax2.plot(x[ok], mean_spec[ok], color="C1", alpha=0.6, label="mean log power")
    ax2.set_ylabel("mean input log power")
    fig.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    save(fig, exp / "plots" / f"weights_{method}")
    fig, rows = plt.subplots(len(examples), 1, figsize=(7, 2.2 * len(examples)), squeeze=False)
    top = np.nanmax(x)
    for a, (utt, feats, m) in zip(rows[:, 0], examples):
        a.imshow(feats.T, origin="lower", aspect="auto", cmap="gray_r", extent=(0, len(feats) / fps, 0, top))
        t, f = np.nonzero(top_fraction_mask(m))  # (time, freq) indices of the top 5 %
        a.scatter(t / fps, f * top / (m.shape[1] - 1), s=1, c="red", alpha=0.5)  # bins drawn evenly spaced
        a.set_title(f"{utt}: top 5 % of |{method}|", fontsize=8)
        a.set_ylabel(label.split(" (")[0])
    rows[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    save(fig, exp / "plots" / f"maps_{method}")
    plt.close("all")


def save(fig, stem: Path) -> None:
    for ext in ("png", "pdf"):
        with atomic_path(stem.with_suffix(f".{ext}")) as tmp:
            fig.savefig(tmp, dpi=110, format=ext)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--method", default="integrated_gradients")
    p.add_argument("--reduction", default="abs", choices=REDUCTIONS)
    p.add_argument("--bin0", default="keep", choices=BIN0)
    p.add_argument("--examples", type=positive_int, default=3)
    a = p.parse_args(argv)
    exp = Path(a.exp_dir)
    d = exp / "gradients" / a.method
    try:
        if not (d / "maps.scp").exists() or not (d / "extract.json").exists():
            raise DataDirError(f"{d}/maps.scp: missing; run gradients/cam_extract.py (b_extract.sh stage 1) first")
        info = json.loads((d / "extract.json").read_text())
        feats = read_dict(Path(info["data_dir"]) / "feats.scp")
        profiles, spectra, examples = [], [], []
        for utt, m in kaldiio.load_scp_sequential(str(d / "maps.scp")):
            profiles.append(utterance_profile(m, a.reduction))
            x = read_rows(feats[utt], {})  # (time, freq)
            spectra.append(x.mean(axis=0))
            if len(examples) < a.examples:
                examples.append((utt, x, m))
        v = frequency_weights(profiles, a.bin0)
        cfg, inputs = read_exp(exp)
        axes = feature_axes(exp, inputs, len(v))
    except (DataDirError, ConfigError, OptionError, ValueError, FloatingPointError, OSError, KeyError) as e:
        print(f"visual_gradient: error: {e}", file=sys.stderr)
        return 1
    atomic_write_bytes(d / "freq_weights.npy", npy_bytes(v))
    atomic_write_text(d / "freq_weights.txt", " ".join(f"{x:.8e}" for x in v) + "\n")
    atomic_write_text(d / "freq_weights.json", json.dumps({**info, "reduction": a.reduction, "bin0": a.bin0,
                                                          "utterances": len(profiles), "bins": len(v)}, indent=1) + "\n")
    (exp / "plots").mkdir(parents=True, exist_ok=True)
    plot(exp, a.method, v, np.mean(spectra, axis=0), examples, axes)
    peak = int(np.argmax(v))
    print(f"visual_gradient: {d}/freq_weights.npy: {len(v)} bins from {len(profiles)} utterances; "
          f"max at bin {peak} ({axes[1]}: {axes[0][peak]:.0f}), min/max {v.min() / v.max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

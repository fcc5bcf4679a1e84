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

import numpy as np

from datasets.ark_read import read_rows, read_scp
from core.atomic import atomic_write_bytes
from datasets.kaldi_files import DataDirError, read_dict
from core.atomic import atomic_write_text
from models.priors import PUBLISHED, read_published
from recipe.experiment import npy_bytes, read_exp
from recipe.plotting import feature_axes, pyplot, save
from core.cli import HelpFormatter, positive_int
from gradients.reduce import BIN0, REDUCTIONS, frequency_weights, top_fraction_mask, utterance_profile
from core.errors import CLI_ERRORS, UsageError, fail


def weights_plot(title: str, method: str, v: np.ndarray, mean_spec: np.ndarray, axes, published: list[str]):
    """The weight vector (/max) against the bins' frequencies, the mean input spectrum on a second axis,
    and optionally the published VoxCeleb vectors; the log-energy column is not a frequency: its
    weight is written in the corner instead of being drawn at 0 Hz."""
    plt = pyplot()
    x, label, _ = axes
    ok = np.isfinite(x)  # the log-energy column (bin 0 of spectrograms) has no frequency
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(x[ok], v[ok] / v.max(), color="C0", lw=1.4, label=f"{method} weight / max")
    for i, name in enumerate(published):
        pv = read_published(PUBLISHED[name])
        ax.plot(x[ok], pv[ok] / pv.max(), color=f"C{i + 2}", lw=0.9, alpha=0.8, label=f"published {name} / max")
    ax.set_xlabel(label)
    ax.set_ylabel("weight / max")
    ax.set_ylim(0, 1.05)
    ax2 = ax.twinx()
    ax2.plot(x[ok], mean_spec[ok], color="C1", alpha=0.6, lw=0.9, label="mean input log power")
    ax2.set_ylabel("mean input log power (ln, int16 scale)")
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        ax.text(
            0.01,
            0.02,
            f"bin {k} = log energy (not a frequency): weight / max {v[k] / v.max():.2f}",
            transform=ax.transAxes,
            fontsize=7,
            color="0.3",
        )
    handles = [h for a in (ax, ax2) for h in a.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # room for the legend below the axes
    return fig


def plot(
    exp: Path, method: str, v: np.ndarray, mean_spec: np.ndarray, examples: list, axes, n_utts: int, published: list[str]
) -> None:
    plt = pyplot()
    x, label, fps = axes
    title = f"{exp.name}: {method} frequency weights, {n_utts} utterances"
    save(weights_plot(title, method, v, mean_spec, axes, published), exp / "plots" / f"weights_{method}")
    fig, rows = plt.subplots(len(examples), 1, figsize=(7, 2.2 * len(examples)), squeeze=False)
    top = np.nanmax(x)
    for a, (utt, feats, m) in zip(rows[:, 0], examples):
        a.imshow(feats.T, origin="lower", aspect="auto", cmap="gray_r", extent=(0, len(feats) / fps, 0, top))
        t, f = np.nonzero(top_fraction_mask(m))  # (time, freq) indices of the top 5 %
        a.scatter(t / fps, f * top / (m.shape[1] - 1), s=1, c="red", alpha=0.5)  # bins drawn evenly spaced
        a.set_title(f"{utt}: top 5 % of |{method}|", fontsize=8)
        a.set_ylabel(label, fontsize=7)  # with its unit (Hz, mel, bin)
    rows[-1, 0].set_xlabel("time (s)")
    fig.suptitle(f"{exp.name}: {method} maps over the input spectrogram", fontsize=9)
    fig.tight_layout()
    save(fig, exp / "plots" / f"maps_{method}")
    plt.close("all")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--method", default="integrated_gradients")
    p.add_argument("--reduction", default="abs", choices=REDUCTIONS)
    p.add_argument("--bin0", default="keep", choices=BIN0)
    p.add_argument("--examples", type=positive_int, default=3, help="utterances in the example-maps plot")
    published_help = (
        f"overlay the published VoxCeleb vectors on the weights plot (comma-separated: "
        f"{', '.join(PUBLISHED)}; 161-bin spectrograms only)"
    )
    p.add_argument("--published", default="", help=published_help)
    return p


def read_maps(a, d: Path, feats: dict) -> tuple[list, list, list]:
    """(per-utterance frequency profiles, mean spectra, the first --examples (utt, features, map))."""
    profiles, spectra, examples = [], [], []
    for utt, m in read_scp(d / "maps.scp"):
        profiles.append(utterance_profile(m, a.reduction))
        x = read_rows(feats[utt], {})  # (time, freq)
        spectra.append(x.mean(axis=0))
        if len(examples) < a.examples:
            examples.append((utt, x, m))
    return profiles, spectra, examples


def published_names(text: str, bins: int) -> list[str]:
    published = [n for n in text.split(",") if n]
    bad = [n for n in published if n not in PUBLISHED]
    if bad:
        raise UsageError(f"--published {text}: unknown {bad}; valid: {', '.join(PUBLISHED)}")
    if published and bins != 161:
        raise UsageError(f"--published {text}: the published vectors have 161 bins, these weights {bins}")
    return published


def write_weights(d: Path, v: np.ndarray, record: dict) -> None:
    atomic_write_bytes(d / "freq_weights.npy", npy_bytes(v))
    atomic_write_text(d / "freq_weights.txt", " ".join(f"{x:.8e}" for x in v) + "\n")
    atomic_write_text(d / "freq_weights.json", json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    exp = Path(a.exp_dir)
    d = exp / "gradients" / a.method
    try:
        if not (d / "maps.scp").exists() or not (d / "extract.json").exists():
            raise DataDirError(f"{d}/maps.scp: missing; run gradients/cam_extract.py (b_extract.sh stage 1) first")
        info = json.loads((d / "extract.json").read_text())
        profiles, spectra, examples = read_maps(a, d, read_dict(Path(info["data_dir"]) / "feats.scp"))
        v = frequency_weights(profiles, a.bin0)
        cfg, inputs = read_exp(exp)
        axes = feature_axes(exp, inputs, len(v))
        published = published_names(a.published, len(v))
    except CLI_ERRORS as e:
        return fail("visual_gradient", e)
    record = {**info, "reduction": a.reduction, "bin0": a.bin0, "utterances": len(profiles), "bins": len(v)}
    write_weights(d, v, record)
    (exp / "plots").mkdir(parents=True, exist_ok=True)
    plot(exp, a.method, v, np.mean(spectra, axis=0), examples, axes, len(profiles), published)
    peak = int(np.argmax(v))
    print(
        f"visual_gradient: {d}/freq_weights.npy: {len(v)} bins from {len(profiles)} utterances; "
        f"max at bin {peak} ({axes[1]}: {axes[0][peak]:.0f}), min/max {v.min() / v.max():.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

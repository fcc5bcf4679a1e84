"""Compare experiments: overlaid DET curves, frequency weights and learned gains, and a table.

    python -m steps.compare exp/demo_rescnn exp/prior_table_demo_rescnn/runs/ig_s1 ... [--out exp/compare]
        [--trials test_trials] [--labels teacher,ig] [--published vox1_clean]

For each experiment it reads what steps.score left in ``<exp>/scores/`` (the scores of every
cosine-scored trials list and their ``.json`` operating points), its model (parameters, MACs at 300
frames, and for a student the learned per-bin gains sigmoid(w v/max(v) + b) of its attention layer),
and the frequency weights of every saliency method it has (``<exp>/gradients/<method>/freq_weights.npy``).

Writes to ``--out``: ``results.md`` (one row per experiment and trials list: EER, minDCF 0.01 and
0.001, trials, parameters, MACs), ``det.{png,pdf}`` (the DET curves of the ``--trials`` list for every
experiment that scored it, probit axes to 99 %, EER and minDCF points marked) and, when any
experiment has them, ``weights.{png,pdf}`` (teachers' weight vectors / max and students' gains against
the bins' frequencies from the experiments' own feature confs). Prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from datasets.kaldi_files import DataDirError

from core.atomic import atomic_write_text
from models.priors import PUBLISHED, read_published
from datasets.trials import read_scores
from recipe.experiment import model_facts, read_exp, scored_lists
from recipe.plotting import det_figure, feature_axes, pyplot, save
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, UsageError, fail


def load_system(exp: Path, label: str) -> dict:
    lists = scored_lists(exp)
    if not lists:
        raise DataDirError(f"{exp}/scores: no cosine-scored trials list (run c_train.sh stage 3 for it)")
    _, inputs = read_exp(exp)
    weights = {
        d.name: np.load(d / "freq_weights.npy", allow_pickle=False)
        for d in sorted((exp / "gradients").glob("*"))
        if (d / "freq_weights.npy").exists()
    }
    return {"exp": exp, "label": label, "lists": lists, "inputs": inputs, "weights": weights, **model_facts(exp)}


def table(systems: list[dict]) -> str:
    rows = [
        "| system | exp dir | trials | trials n | EER (%) | minDCF p=0.01 | minDCF p=0.001 | params | MACs @300 frames |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in systems:
        for name, r in s["lists"].items():
            rows.append(
                f"| {s['label']} | `{s['exp']}` | {name} | {r['n']} | {100 * r['eer']['value']:.2f} | "
                f"{r['mindcf_0.01']['value']:.4f} | {r['mindcf_0.001']['value']:.4f} | {s['params']:,} | "
                f"{s['macs'] / 1e9:.3f} G |"
            )
    return "\n".join(rows) + "\n"


def default_trials(systems: list[dict]) -> str:
    """The scored list every system shares, preferring one whose trials file is named ``trials``."""
    shared = [n for n in systems[0]["lists"] if all(n in s["lists"] for s in systems)]
    if not shared:
        raise DataDirError("the experiments share no scored trials list; give --trials NAME")
    return next((n for n in shared if Path(systems[0]["lists"][n]["trials"]).name == "trials"), shared[0])


def det_plot(out: Path, systems: list[dict], name: str) -> list[str]:
    """DET curves of every system that scored ``name``; returns the labels of those that did not."""
    curves, skipped = [], []
    for s in systems:
        score_file = s["exp"] / "scores" / f"{name}.score"
        if name not in s["lists"] or not score_file.exists():
            skipped.append(s["label"])
            continue
        _, scores, labels = read_scores(score_file)
        curves.append((s["label"], scores, labels))
    if not curves:
        raise DataDirError(f"--trials {name}: no experiment has scores/{name}.score")
    fig = det_figure(curves, f"DET: {name} ({len(curves[0][1])} trials)")
    save(fig, out / "det")
    pyplot().close(fig)
    return skipped


def weights_plot(out: Path, systems: list[dict], published: list[str]) -> bool:
    """Teachers' weight vectors / max and students' learned gains against frequency, two panels."""
    if not any(s["weights"] or "gains" in s for s in systems):
        return False
    plt = pyplot()
    fig, (top, low) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for i, s in enumerate(systems):
        for j, (method, v) in enumerate(s["weights"].items()):
            x, xlabel, _ = feature_axes(s["exp"], s["inputs"], len(v))
            ok = np.isfinite(x)  # the log-energy column has no frequency
            top.plot(
                x[ok],
                v[ok] / v.max(),
                color=f"C{i % 10}",
                ls=("-", "--", ":", "-.")[j % 4],
                lw=1.1,
                label=f"{s['label']}: {method}",
            )
        if "gains" in s:
            g = s["gains"]
            x, xlabel, _ = feature_axes(s["exp"], s["inputs"], len(g))
            ok = np.isfinite(x)
            low.plot(x[ok], g[ok], color=f"C{i % 10}", lw=1.1, label=f"{s['label']} (w {s['w']:.2f}, b {s['b']:.2f})")
    for name in published:
        pv = read_published(PUBLISHED[name])
        hz = np.arange(len(pv)) * 50.0  # the published vectors are 161-bin spectrograms of 16 kHz audio
        top.plot(hz[1:], pv[1:] / pv.max(), color="0.4", lw=0.8, ls=":", label=f"published {name}")
    top.set_ylabel("teacher weight / max")
    top.set_title("frequency weights of the teachers (bin 0 = log energy, not drawn)", fontsize=9)
    low.set_ylabel("student gain sigmoid(w v + b)")
    low.set_title("learned per-bin gains of the students' attention layers", fontsize=9)
    low.set_xlabel(xlabel)
    for ax in (top, low):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    save(fig, out / "weights")
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("exps", nargs="+", help="experiment dirs")
    p.add_argument("--out", default="exp/compare", help="output dir")
    p.add_argument("--labels", default="", help="comma-separated names of the systems (default: exp dir names)")
    p.add_argument("--trials", default=None, help="scored list for the DET plot (default: the shared list named trials)")
    p.add_argument("--published", default="", help=f"overlay published vectors ({', '.join(PUBLISHED)})")
    a = p.parse_args(argv)
    labels = [x for x in a.labels.split(",") if x] or [Path(e).name for e in a.exps]
    published = [x for x in a.published.split(",") if x]
    out = Path(a.out)
    try:
        if len(labels) != len(a.exps):
            raise UsageError(f"--labels has {len(labels)} names for {len(a.exps)} experiments")
        if any(x not in PUBLISHED for x in published):
            raise UsageError(f"--published {a.published}: valid names are {', '.join(PUBLISHED)}")
        systems = [load_system(Path(e), lab) for e, lab in zip(a.exps, labels)]
        name = a.trials or default_trials(systems)
        out.mkdir(parents=True, exist_ok=True)
        skipped = det_plot(out, systems, name)
        has_weights = weights_plot(out, systems, published)
    except CLI_ERRORS as e:
        return fail("compare", e)
    text = table(systems)
    atomic_write_text(out / "results.md", f"# Comparison of {len(systems)} systems\n\nDET plot: {name}\n\n{text}")
    if skipped:
        print(f"compare: warning: {', '.join(skipped)} did not score {name}: not in the DET plot", file=sys.stderr)
    print(text, end="")
    print(f"compare: {out}/results.md, det.png/pdf" + (", weights.png/pdf" if has_weights else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

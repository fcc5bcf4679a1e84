"""The table of a prior experiment (local/prior_table.sh stage 4): does the teacher's prior help?

    python -m steps.prior_table --table exp/prior_table_demo_rescnn --teacher-exp exp/demo_rescnn \\
        --test-dir data/synth/test [--n-boot 1000] [--seed 0]

Reads <table>/runs.tsv, <table>/plan.json (the comparisons declared before the runs, steps/prior_runs.py)
and each run's <table>/runs/<run>/scores/<test>_trials.score (runs without it are listed as
unfinished and left out, with a warning). Per prior: EER and both minDCFs as mean ± sd over seeds
(minDCF at p=0.001 only where at least 10/0.001 nontarget trials back it), parameters and MACs (300
frames), the learned w, b. Per comparison (evaluation/comparisons.py): the mean paired difference over
seeds, its two-level bootstrap interval (seeds x test speakers), p-value (Holm-adjusted over the
primaries), the paired sd and the minimum detectable difference at the seeds run. Writes
<table>/results.md, results.csv (per prior), comparisons.csv, runs.csv (per run: prior, seed,
permutation, metrics, steps, converged, training seconds), gains.csv and plots/{eer,gains}.{png,pdf}.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from datasets.kaldi_files import DataDirError, read_dict
from evaluation.comparisons import compare, seeds_to_run
from evaluation.stats import bootstrap_metrics, dcf_supported, speaker_weights, t_interval
from recipe.evaluate import metrics
from datasets.trials import read_scores
from recipe.experiment import model_facts, read_exp
from recipe.plotting import feature_axes, save
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, fail

KEYS = ("eer", "mindcf_0.01", "mindcf_0.001")


def training_facts(exp: Path) -> dict:
    """Steps, the convergence verdict and the training seconds (sum of the epochs) of a run."""
    tj, tc = exp / "training.json", exp / "log" / "training.csv"
    facts = {"steps": "", "converged": "", "train_seconds": ""}
    if tj.exists():
        t = json.loads(tj.read_text())
        verdict = t.get("converged")
        facts.update(steps=t.get("steps", ""), converged="unknown (too few epochs)" if verdict is None else verdict)
    if tc.exists():
        rows = list(csv.DictReader(io.StringIO(tc.read_text())))
        facts["train_seconds"] = round(sum(float(r["seconds"]) for r in rows), 1)
    return facts


def load_runs(table: Path, score_name: str) -> tuple[list[dict], list[str]]:
    """Finished runs (run, prior, seed, scores, labels, pairs, facts) and the names of unfinished ones."""
    runs, missing = [], []
    for n, line in enumerate((table / "runs.tsv").read_text().splitlines(), 1):
        f = line.split("\t")
        if len(f) != 3:
            raise DataDirError(f"{table}/runs.tsv:{n}: want 'run<TAB>prior<TAB>seed', got {line!r}")
        exp = table / "runs" / f[0]
        path = exp / "scores" / score_name
        if not path.exists():
            missing.append(f[0])
            continue
        pairs, scores, labels = read_scores(path)
        runs.append(
            {
                "run": f[0],
                "prior": f[1],
                "seed": int(f[2]),
                "pairs": pairs,
                "scores": scores,
                "labels": labels,
                "m": metrics(scores, labels),
                **model_facts(exp),
                **training_facts(exp),
            }
        )
    return runs, missing


def check_same_trials(runs: list[dict], where: str) -> None:
    for r in runs[1:]:
        if r["pairs"] != runs[0]["pairs"] or not np.array_equal(r["labels"], runs[0]["labels"]):
            raise DataDirError(f"{where}: run {r['run']} was scored on other trials than {runs[0]['run']}")


def summarise(runs: list[dict]) -> list[dict]:
    """One row per prior (in runs.tsv order): mean and sd over seeds of each metric."""
    rows = []
    for p in dict.fromkeys(r["prior"] for r in runs):
        mine = [r for r in runs if r["prior"] == p]
        m = np.array([[r["m"][k] for k in KEYS] for r in mine])  # (seeds, keys)
        row = {"prior": p, "seeds": len(mine), "params": mine[0]["params"], "macs": mine[0]["macs"]}
        for j, k in enumerate(KEYS):
            row[f"{k}_mean"] = float(m[:, j].mean())
            row[f"{k}_sd"] = float(m[:, j].std(ddof=1)) if len(mine) > 1 else float("nan")
        if "w" in mine[0]:
            row["w_mean"], row["b_mean"] = float(np.mean([r["w"] for r in mine])), float(np.mean([r["b"] for r in mine]))
        rows.append(row)
    return rows


def read_plan(table: Path, priors: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(primaries, exploratory) of <table>/plan.json; a table without one (made before plans existed)
    has no primaries and compares every prior with 'none' as exploratory."""
    path = table / "plan.json"
    if path.exists():
        plan = json.loads(path.read_text())
        return [tuple(x) for x in plan["primaries"]], [tuple(x) for x in plan["exploratory"]]
    print(f"prior_table: warning: {path} missing: no pre-declared primaries, every comparison is exploratory", file=sys.stderr)
    return [], [(p, "none") for p in priors if p != "none"]


def pct(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.2f}"


def dcf(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.4f}"


def fmt_comparison(c: dict) -> str:
    scale, f = (100.0, "{:+.2f}") if c["metric"] == "eer" else (1.0, "{:+.4f}")
    p = f"{c['p']:.3f}" + (f" / {c['p_holm']:.3f}" if c["kind"] == "primary" else "")
    mde = "–" if not np.isfinite(c["mde"]) else f.format(c["mde"] * scale).lstrip("+")
    sd = "–" if not np.isfinite(c["paired_sd"]) else f.format(c["paired_sd"] * scale).lstrip("+")
    return (
        f"| {c['a']} vs {c['b']} | {c['kind']} | {c['metric']} | {c['seeds']} | {f.format(c['diff'] * scale)} | "
        f"[{f.format(c['lo'] * scale)}, {f.format(c['hi'] * scale)}] ({100 * c['level']:.1f} %) | {p} | {sd} | {mde} |"
    )


def dcf_cell(row: dict, key: str, n_non: int) -> str:
    if key == "mindcf_0.001" and not dcf_supported(n_non, 0.001):
        return f"too few nontargets ({n_non:,} < 10,000)"
    return f"{dcf(row[f'{key}_mean'])} ± {dcf(row[f'{key}_sd'])}"


def markdown(
    table: Path, rows: list[dict], comps: list[dict], teacher: dict | None, missing: list[str], n_boot: int, n_non: int
) -> str:
    out = [
        f"# Prior experiment {table.name}\n",
        "Per prior: mean ± sd over seeds; MACs at 300 frames. minDCF at p=0.001 is shown only where at least "
        "10/0.001 nontarget trials back it.\n",
        "| prior | seeds | EER (%) | minDCF 0.01 | minDCF 0.001 | learned w, b | params | MACs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if teacher:
        d3 = f"{teacher['mindcf_0.001']:.4f}" if dcf_supported(n_non, 0.001) else "too few nontargets"
        out.append(
            f"| teacher ({teacher['name']}) | 1 | {pct(teacher['eer'])} | {teacher['mindcf_0.01']:.4f} | {d3} | "
            f"– | {teacher['params']:,} | {teacher['macs'] / 1e9:.3f} G |"
        )
    for r in rows:
        wb = f"{r['w_mean']:.2f}, {r['b_mean']:.2f}" if "w_mean" in r else "–"
        out.append(
            f"| {r['prior']} | {r['seeds']} | {pct(r['eer_mean'])} ± {pct(r['eer_sd'])} | "
            f"{dcf_cell(r, 'mindcf_0.01', n_non)} | {dcf_cell(r, 'mindcf_0.001', n_non)} | {wb} | "
            f"{r['params']:,} | {r['macs'] / 1e9:.3f} G |"
        )
    out += [
        "\nComparisons A vs B: mean over paired seeds (same seed = same initialisation and egs order) of "
        "A - B, negative is better (EER in points). Interval: two-level bootstrap (seeds x test speakers, "
        f"{n_boot} replicates); a primary's level is Holm's for its rank. p: two-level bootstrap, then Holm over "
        "the primaries (p / p Holm). MDE: the smallest true difference the seeds run detect with 80 % power "
        "(primaries at alpha / number of primaries). Exploratory rows are not corrected: read them as leads.\n",
        "| comparison | kind | metric | seeds | Δ | interval | p | paired sd | MDE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    out += [fmt_comparison(c) for c in comps] or ["| (no comparison has a paired seed) | | | | | | | | |"]
    if missing:
        out.append(f"\nUnfinished runs, left out: {', '.join(missing)}")
    return "\n".join(out) + "\n"


def csv_text(rows: list[dict]) -> str:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, restval="")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def runs_csv(runs: list[dict], meta: dict) -> str:
    """The per-run figures every table of the experiment is computed from."""
    rows = [
        {
            "run": r["run"],
            "prior": r["prior"],
            "seed": r["seed"],
            "permutation": ":".join(map(str, meta.get(r["prior"], {}).get("permutation_seed", {}).get(f"s{r['seed']}", []))),
            **{k: f"{r['m'][k]:.6f}" for k in KEYS},
            "steps": r["steps"],
            "converged": r["converged"],
            "train_seconds": r["train_seconds"],
        }
        for r in runs
    ]
    return csv_text(rows)


def gains_csv(runs: list[dict]) -> str:
    att = [r for r in runs if "gains" in r]
    if not att:
        return ""
    n = len(att[0]["gains"])
    head = "run,prior,seed,w,b," + ",".join(f"gain_{i}" for i in range(n))
    lines = [
        f"{r['run']},{r['prior']},{r['seed']},{r['w']:.6g},{r['b']:.6g}," + ",".join(f"{g:.6g}" for g in r["gains"]) for r in att
    ]
    return "\n".join([head, *lines]) + "\n"


def plots(table: Path, rows: list[dict], runs: list[dict], hz: np.ndarray, teacher: dict | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = table / "plots"
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(rows) + 2), 3.4))
    for i, r in enumerate(rows):
        vals = [100 * x["m"]["eer"] for x in runs if x["prior"] == r["prior"]]
        m, lo, hi = t_interval(vals)
        ax.scatter([i] * len(vals), vals, color="0.6", s=12, zorder=2)
        err = [[m - lo], [hi - m]] if np.isfinite(lo) else None
        ax.errorbar([i], [m], yerr=err, fmt="o", color="C0", capsize=4, zorder=3)
    if teacher:
        ax.axhline(100 * teacher["eer"], color="C3", ls="--", label=f"teacher {100 * teacher['eer']:.2f} %")
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks(range(len(rows)), [r["prior"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("EER (%)")
    ax.set_title(f"{table.name}: student EER per prior\n(mean and 95 % t interval over seeds; grey: each seed)", fontsize=9)
    fig.tight_layout()
    save(fig, out / "eer")
    plt.close(fig)
    gains_plot(out, runs, hz, table.name)


def gains_plot(out: Path, runs: list[dict], hz: np.ndarray, name: str) -> None:
    """One panel per attention prior: the learned gain of each seed and the prior / max, against Hz."""
    import matplotlib.pyplot as plt

    att = [r for r in runs if "gains" in r]
    if not att:
        return
    ok = np.isfinite(hz)  # bin 0 (log energy) has no frequency
    priors = list(dict.fromkeys(r["prior"] for r in att))
    cols = 1 if len(priors) == 1 else 2
    rows = -(-len(priors) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 2.1 * rows + 0.6), sharex=True, sharey=True, squeeze=False)
    for ax, p in zip(axes.flat, priors):
        mine = [r for r in att if r["prior"] == p]
        for r in mine:
            ax.plot(hz[ok], r["gains"][ok], lw=1.0, label=f"gain, seed {r['seed']} (w {r['w']:.2f}, b {r['b']:.2f})")
        v = mine[0]["prior_values"]
        ax.plot(hz[ok], v[ok] / max(v.max(), 1e-12), color="k", lw=0.7, ls=":", label="prior v / max")
        ax.set_title(p, fontsize=9)
        ax.legend(fontsize=6, loc="upper right")
    for ax in axes.flat[len(priors) :]:
        ax.set_visible(False)
    for c in range(cols):  # the lowest visible panel of each column carries the frequency axis
        low = axes[-1, c] if axes[-1, c].get_visible() else axes[-2, c]
        low.xaxis.set_tick_params(labelbottom=True)
        low.set_xlabel("frequency (Hz)")
    for ax in axes[:, 0]:
        ax.set_ylabel("sigmoid(w v + b)")
    fig.suptitle(f"{name}: learned per-bin gains of the attention students", fontsize=10)
    fig.tight_layout()
    save(fig, out / "gains")
    plt.close(fig)


def axis_hz(table: Path, runs: list[dict]) -> np.ndarray | None:
    """Centre frequency of each bin (NaN for log energy) from an attention run's own feature conf."""
    att = [r for r in runs if "gains" in r]
    if not att:
        return None
    exp = table / "runs" / att[0]["run"]
    return feature_axes(exp, read_exp(exp)[1], len(att[0]["gains"]))[0]


def teacher_row(exp: Path, score_name: str, pairs: list, labels: np.ndarray) -> dict | None:
    path = exp / "scores" / score_name
    if not path.exists():
        print(f"prior_table: warning: {path} missing; the table has no teacher row", file=sys.stderr)
        return None
    tp, scores, tl = read_scores(path)
    if tp != pairs or not np.array_equal(tl, labels):
        raise DataDirError(f"{path}: the teacher was scored on other trials than the students")
    facts = model_facts(exp)
    return {"name": exp.name, **metrics(scores, tl), "params": facts["params"], "macs": facts["macs"]}


def prior_seeds(plan: dict, need: dict[str, int], runs: list[dict]) -> dict[str, int]:
    """Seeds each prior's next round trains: the most any of its EER primaries needs, never fewer than
    it has run; a prior compared only as exploratory follows its baseline."""
    n = {p: sum(r["prior"] == p for r in runs) for p in dict.fromkeys(r["prior"] for r in runs)}  # prior -> runs
    for a, b in plan["primaries"]:
        for p in (a, b):
            n[p] = max(n.get(p, 0), need.get(f"{a} vs {b}", 0))
    for a, b in plan["exploratory"]:
        n[a] = max(n.get(a, 0), n.get(b, 0))
    return n


def power_report(table: Path, comps: list[dict], runs: list[dict]) -> None:
    """Print and write <table>/power.json: the paired seeds each EER primary needs to detect the
    plan's difference, from the paired sd of the seeds run so far (the pilot), and each prior's seeds
    for the next round (<table>/seeds_per_prior, read by local/prior_table.sh --seeds auto)."""
    path = table / "plan.json"
    if not path.exists():
        return
    plan = json.loads(path.read_text())
    need = seeds_to_run(comps, plan["detect_eer_points"] / 100, 1 - plan["level"], plan["power"], most=500)
    seeds = max((c["seeds"] for c in comps if c["kind"] == "primary"), default=0)
    for name, n in need.items():
        c = next(c for c in comps if f"{c['a']} vs {c['b']}" == name and c["metric"] == "eer")
        print(
            f"prior_table: power: {name}: paired sd {100 * c['paired_sd']:.2f} points over {c['seeds']} seeds -> "
            f"{n} seeds detect {plan['detect_eer_points']} points at {100 * plan['power']:.0f} % power "
            f"(MDE now {100 * c['mde']:.2f})"
        )
    per_prior = prior_seeds(plan, need, runs)
    facts = {"seeds_run": seeds, "seeds_needed": max(need.values(), default=0), "per_primary": need, "per_prior": per_prior}
    atomic_write_text(table / "power.json", json.dumps(facts, indent=1) + "\n")
    # read by local/prior_table.sh: the next round's --seeds-per-prior
    atomic_write_text(table / "seeds_per_prior", " ".join(f"{p}:{k}" for p, k in per_prior.items()) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--table", required=True)
    p.add_argument("--teacher-exp", required=True)
    p.add_argument("--test-dir", required=True, help="the data dir the runs were scored on (its utt2spk)")
    p.add_argument("--n-boot", type=int, default=1000, help="two-level bootstrap replicates (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    a = p.parse_args(argv)
    table, test = Path(a.table), Path(a.test_dir)
    score_name = f"{test.name}_trials.score"
    try:
        runs, missing = load_runs(table, score_name)
        if not runs:
            raise DataDirError(f"{table}: no finished run (none has scores/{score_name}); run stage 3 first")
        if missing:
            print(f"prior_table: warning: {len(missing)} unfinished run(s) left out: {', '.join(missing)}", file=sys.stderr)
        check_same_trials(runs, str(table))
        utt2spk = read_dict(test / "utt2spk")
        pairs = runs[0]["pairs"]
        unknown = sorted({u for pr in pairs for u in pr if u not in utt2spk})
        if unknown:
            raise DataDirError(f"{test}/utt2spk: no speaker for {len(unknown)} trial utterance(s), first {unknown[0]!r}")
        w = speaker_weights(np.array([utt2spk[e] for e, _ in pairs]), np.array([utt2spk[t] for _, t in pairs]), a.n_boot, a.seed)
        boot = bootstrap_metrics([r["scores"] for r in runs], runs[0]["labels"], w, KEYS)  # (runs, resamples, keys)
        rows = summarise(runs)
        primaries, exploratory = read_plan(table, [r["prior"] for r in rows])
        comps = compare(runs, boot, KEYS[:2], primaries, exploratory, seed=a.seed)
        meta = json.loads((table / "priors.json").read_text()) if (table / "priors.json").exists() else {}
        n_non = int((~runs[0]["labels"]).sum())
        teacher = teacher_row(Path(a.teacher_exp), score_name, pairs, runs[0]["labels"])
        hz = axis_hz(table, runs)
    except CLI_ERRORS as e:
        return fail("prior_table", e)
    atomic_write_text(table / "results.md", markdown(table, rows, comps, teacher, missing, a.n_boot, n_non))
    atomic_write_text(table / "results.csv", csv_text(rows))
    atomic_write_text(table / "comparisons.csv", csv_text(comps))
    atomic_write_text(table / "runs.csv", runs_csv(runs, meta))
    if hz is not None:
        atomic_write_text(table / "gains.csv", gains_csv(runs))
    plots(table, rows, runs, hz if hz is not None else np.array([]), teacher)
    power_report(table, comps, runs)
    print(f"prior_table: {len(runs)} runs, {len(rows)} priors -> {table}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

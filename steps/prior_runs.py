"""The runs of a prior experiment: one student YAML per (prior, seed), the prior vectors they use.

    python -m steps.prior_runs --teacher-exp exp/demo_rescnn --student-config conf/prior_student.yaml \\
        --out exp/prior_table_demo --priors "none mel ig eg gradient ig_smooth ig_learn vox1_clean shuffled" \\
        --seeds "1 2 3" [--seeds-per-prior "gradient:16 shuffled:16" --max-seeds 16] [--oracle-band 2000-3000] [--shuffle-seed 0]
    python -m steps.prior_runs --methods-for "ig shuffled"    # the teacher methods those priors need

Writes <out>/priors/<prior>.npy (<prior>_s<seed>.npy for the shuffled controls, whose bin order is
drawn anew for every student seed; priors.json says where each came from), <out>/conf/<prior>_s<seed>.yaml
(the student config with model.attention and train.seed set: one YAML per experiment) and
<out>/runs.tsv (run, prior, seed). ``--seeds-per-prior PRIOR:N`` trains that prior on seeds 1..N (at
most --max-seeds) instead of --seeds: after a pilot, each prior gets the seeds its primaries need
(steps/prior_table.py writes them to <table>/seeds_per_prior), so a comparison short of power gets
more seeds without retraining the priors whose comparisons already have enough. The teacher and its
weights stay fixed; the seed changes the student's initialisation and the egs order (train.seed).
Everything is checked before anything is written; rerunning with the same arguments rewrites identical
files (finished runs are untouched: their exp dirs refuse a changed config).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from core.atomic import atomic_write_bytes, atomic_write_text
from evaluation.comparisons import parse_pairs
from models.priors import band_indicator, shuffled, smooth_alternation
from core.errors import ConfigError
from recipe.config import load_config, validate
from recipe.experiment import npy_bytes, read_exp, resolve_prior
from datasets.synthetic import parse_band
from recipe.plotting import feature_axes
from core.cli import HelpFormatter, arg_type
from core.errors import CLI_ERRORS, fail

# prior name -> (teacher method whose freq_weights it uses or None, learn_prior, meaning)
PRIORS = {
    "none": (None, False, "no attention layer (the bare student)"),
    "mel": (None, False, "mel-scale density of the bins (the paper's hand-made prior)"),
    "ig": ("integrated_gradients", False, "teacher's Integrated Gradients weights"),
    "eg": ("expected_gradients", False, "teacher's Expected Gradients weights"),
    "gradient": ("gradient", False, "teacher's plain-gradient weights (the paper's GFA prior)"),
    "ig_smooth": ("integrated_gradients", False, "IG weights smoothed by [1/4, 1/2, 1/4] (no even/odd zig-zag)"),
    "ig_learn": ("integrated_gradients", True, "learnable per-bin prior initialised from IG"),
    "vox1_clean": (None, False, "published VoxCeleb1 clean-teacher vector (161-bin spectrograms only)"),
    "shuffled": (
        "gradient",
        False,
        "the gradient prior's values in a random bin order, a new order per seed "
        "(bin 0, log energy, kept in place): the teacher's shape against a random one",
    ),
    "ig_shuffled": ("integrated_gradients", False, "the IG prior's values in a random bin order per seed (bin 0 kept)"),
    "oracle": (None, False, "the planted band itself (needs --oracle-band)"),
}
SHUFFLED = ("shuffled", "ig_shuffled")  # one permutation per (shuffle seed, student seed)
# priors that were offered once and are not any more: the reason is the error message
REMOVED = {
    "uniform": "prior 'uniform' was removed: a gain that is the same in every bin is undone by the BatchNorm after "
    "the student's first convolution, so it could only equal 'none' and tested nothing (the issue-26 "
    "experiment's controls are 'none' and 'shuffled')"
}


DEFAULT_PRIORS = "none gradient ig shuffled"  # the priors of the default primaries (--primaries)


def weights_path(teacher: Path, method: str) -> Path:
    return teacher / "gradients" / method / "freq_weights.npy"


def prior_vector(name: str, teacher: Path, feat_dim: int, band, hz, perm_seed=0) -> np.ndarray | None:
    """The prior ``name`` as a (freq,) vector (None for 'none'); ``perm_seed`` draws the shuffled order."""
    method = PRIORS[name][0]
    if name == "none":
        return None
    if name in ("mel", "vox1_clean"):
        return resolve_prior(name, feat_dim)
    if name == "oracle":
        if band is None:
            raise ConfigError("prior 'oracle' needs --oracle-band LO-HI (the planted band, Hz)")
        return band_indicator(hz, band)
    path = weights_path(teacher, method)
    if not path.is_file():
        raise ConfigError(f"prior {name!r}: {path} missing; run ./b_extract.sh --teacher-exp {teacher} --method {method}")
    v = resolve_prior(str(path), feat_dim)
    return smooth_alternation(v) if name == "ig_smooth" else shuffled(v, perm_seed) if name in SHUFFLED else v


def run_config(base: dict, name: str, prior_file: Path, seed: int) -> dict:
    cfg = json.loads(json.dumps(base))  # a deep copy of plain YAML data
    learn = PRIORS[name][1]
    cfg["model"]["attention"] = None if name == "none" else {"prior": str(prior_file), "learn_prior": learn}
    cfg["train"]["seed"] = seed
    return validate(cfg, f"run {name} seed {seed}")


def parse_list(text: str, what: str) -> list[str]:
    items = text.replace(",", " ").split()
    if not items or len(set(items)) != len(items):
        raise ConfigError(f"--{what}: want distinct names separated by spaces, got {text!r}")
    return items


def check_priors(priors: list[str]) -> None:
    for p in priors:
        if p in REMOVED:
            raise ConfigError(REMOVED[p])
    unknown = [p for p in priors if p not in PRIORS]
    if unknown:
        raise ConfigError(f"--priors: unknown {unknown}; valid: {', '.join(PRIORS)}")


def prior_file(name: str, seed: int) -> str:
    """The file stem under <out>/priors of a run's prior: one per seed for the shuffled controls."""
    return f"{name}_s{seed}" if name in SHUFFLED else name


def parse_per_prior(text: str, priors: list[str], most: int | None) -> dict[str, int]:
    """'gradient:16 shuffled:16' -> {'gradient': 16, 'shuffled': 16}, each N capped at ``most``."""
    counts = {}
    for item in parse_list(text, "seeds-per-prior") if text.strip() else []:
        name, _, n = item.partition(":")
        if name not in priors or not n.isdigit() or int(n) < 1:
            raise ConfigError(
                f"--seeds-per-prior: {item!r}: want PRIOR:N with N >= 1 and PRIOR one of --priors ({' '.join(priors)})"
            )
        counts[name] = int(n)
        if most is not None and int(n) > most:
            print(f"prior_runs: {name}: {n} seeds asked, {most} run (--max-seeds)", file=sys.stderr)
            counts[name] = most
    return counts


def seed_lists(a, priors: list[str]) -> dict[str, list[int]]:
    """The seeds of each prior: --seeds, or 1..N where --seeds-per-prior gives N."""
    seeds = [int(s) for s in parse_list(a.seeds, "seeds")]
    counts = parse_per_prior(a.seeds_per_prior, priors, a.max_seeds)
    return {p: list(range(1, counts[p] + 1)) if p in counts else seeds for p in priors}


def plan(a) -> tuple[dict[str, np.ndarray | None], dict[str, dict], list[tuple[str, str, int]], dict]:
    priors = parse_list(a.priors, "priors")
    check_priors(priors)
    per_prior = seed_lists(a, priors)
    seeds = sorted({s for v in per_prior.values() for s in v})
    teacher = Path(a.teacher_exp)
    tcfg, tinputs = read_exp(teacher)
    base = load_config(a.student_config)
    feat_dim = base["data"]["feat_dim"]
    if (tcfg["data"]["feat_type"], tcfg["data"]["feat_dim"]) != (base["data"]["feat_type"], feat_dim):
        raise ConfigError(
            f"{a.student_config}: features {base['data']['feat_type']}/{feat_dim} differ from the teacher's "
            f"{tcfg['data']['feat_type']}/{tcfg['data']['feat_dim']} ({teacher})"
        )
    hz = feature_axes(teacher, tinputs, feat_dim)[0]
    # one vector per prior (its file read once); the shuffled controls one per seed
    vectors = {
        prior_file(p, s): prior_vector(p, teacher, feat_dim, a.oracle_band, hz, (a.shuffle_seed, s))
        for p in priors
        for s in (per_prior[p] if p in SHUFFLED else per_prior[p][:1])
    }
    out = Path(a.out)
    configs, runs = {}, []
    for s in seeds:  # seed-major: a partial table has every prior at its first seeds
        for p in (p for p in priors if s in per_prior[p]):
            run = f"{p}_s{s}"
            configs[run] = run_config(base, p, out / "priors" / f"{prior_file(p, s)}.npy", s)
            runs.append((run, p, s))
    meta = {
        p: {
            "meaning": PRIORS[p][2],
            "teacher": str(teacher) if PRIORS[p][0] else None,
            "method": PRIORS[p][0],
            "learn_prior": PRIORS[p][1],
        }
        for p in priors
    }
    for p in set(priors) & set(SHUFFLED):
        meta[p]["permutation_seed"] = {f"s{s}": [a.shuffle_seed, s] for s in per_prior[p]}
    return vectors, configs, runs, meta


def declare(a, priors: list[str], out: Path) -> dict:
    """The table's pre-declared comparisons (<out>/plan.json), fixed before its first run: a primary is
    kept where both its priors are trained, the other priors are compared with 'none' as exploratory."""
    if not (a.detect > 0 and 0 < a.power < 1):
        raise ConfigError(f"--detect {a.detect} / --power {a.power}: want a difference > 0 and a power in (0, 1)")
    wanted = parse_pairs(a.primaries)
    check_priors([x for pr in wanted for x in pr])
    primaries = [pr for pr in wanted if set(pr) <= set(priors)]
    for pr in wanted:
        if pr not in primaries:
            print(f"prior_runs: primary {pr[0]} vs {pr[1]} left out: --priors does not train both", file=sys.stderr)
    prim_priors = {x for pr in primaries for x in pr}
    exploratory = [
        (p, "none")
        for p in priors
        if p != "none" and "none" in priors and (p, "none") not in primaries and not (p in prim_priors and p in SHUFFLED)
    ]
    plan = {
        "primaries": [list(x) for x in primaries],
        "exploratory": [list(x) for x in exploratory],
        "correction": "holm",
        "level": 0.95,
        "power": a.power,
        "detect_eer_points": a.detect,
    }
    old = out / "plan.json"
    if old.exists() and (out / "runs").is_dir() and any((out / "runs").iterdir()):
        before = json.loads(old.read_text())
        if before.get("primaries") != plan["primaries"]:
            raise ConfigError(
                f"{old}: the primaries {before.get('primaries')} were declared before the runs started; "
                f"declaring {plan['primaries']} now is not allowed (use a new --table)"
            )
    return plan


def write(out: Path, vectors, configs, runs, meta) -> None:
    for p, v in vectors.items():
        if v is not None:
            atomic_write_bytes(out / "priors" / f"{p}.npy", npy_bytes(v))
    atomic_write_text(out / "priors.json", json.dumps(meta, indent=1) + "\n")
    for run, cfg in configs.items():
        atomic_write_text(out / "conf" / f"{run}.yaml", yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_text(out / "runs.tsv", "".join(f"{r}\t{p}\t{s}\n" for r, p, s in runs))


def print_methods(text: str) -> int:
    priors = parse_list(text, "methods-for")
    check_priors(priors)
    for m in dict.fromkeys(PRIORS[p][0] for p in priors if PRIORS[p][0]):
        print(m)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--teacher-exp")
    p.add_argument("--student-config")
    p.add_argument("--out")
    p.add_argument(
        "--priors",
        default=DEFAULT_PRIORS,
        help=f"any of: {' '.join(PRIORS)} (default: %(default)s, the default primaries' priors)",
    )
    p.add_argument("--seeds", default="1 2 3", help="student seeds (default: %(default)s)")
    p.add_argument(
        "--seeds-per-prior",
        default="",
        metavar="PRIOR:N ...",
        help="these priors are trained on seeds 1..N instead of --seeds (the pilot's <table>/seeds_per_prior)",
    )
    p.add_argument("--max-seeds", type=int, default=None, help="at most this many seeds per prior in --seeds-per-prior")
    p.add_argument("--oracle-band", type=arg_type(parse_band), default=None, help="LO-HI Hz: the band of the 'oracle' prior")
    p.add_argument(
        "--shuffle-seed",
        type=int,
        default=0,
        help="with each student seed, draws the bin order of the shuffled priors (default: %(default)s)",
    )
    p.add_argument(
        "--primaries",
        default="gradient:none ig:none gradient:shuffled",
        help="pre-declared PRIOR:BASELINE comparisons, Holm-corrected (default: %(default)s)",
    )
    p.add_argument(
        "--detect", type=float, default=0.4, help="EER difference (points) the seeds are planned to detect (default: %(default)s)"
    )
    p.add_argument("--power", type=float, default=0.8, help="power of that plan (default: %(default)s)")
    p.add_argument(
        "--methods-for",
        metavar="PRIORS",
        default=None,
        help="only print the teacher saliency methods these priors need (empty: --priors), one per line, and exit",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    try:
        if a.methods_for is not None:
            return print_methods(a.methods_for or a.priors)
        if not (a.teacher_exp and a.student_config and a.out):
            p.error("--teacher-exp, --student-config and --out are required (except with --methods-for)")
        vectors, configs, runs, meta = plan(a)
        declared = declare(a, list(dict.fromkeys(p for _, p, _ in runs)), Path(a.out))
        write(Path(a.out), vectors, configs, runs, meta)
        atomic_write_text(Path(a.out) / "plan.json", json.dumps(declared, indent=1) + "\n")
    except CLI_ERRORS as e:
        return fail("prior_runs", e)
    per = {prior: sum(p == prior for _, p, _ in runs) for _, prior, _ in runs}  # prior -> its seeds
    if len(set(per.values())) == 1:
        shape = f"{len(per)} priors x {len(runs) // len(per)} seeds"
    else:
        shape = ", ".join(f"{p} x {n} seeds" for p, n in per.items())
    print(f"prior_runs: {len(runs)} runs ({shape}) in {a.out}/runs.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())

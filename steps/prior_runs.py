"""The runs of a prior experiment: one student YAML per (prior, seed), the prior vectors they use.

    python -m steps.prior_runs --teacher-exp exp/demo_rescnn --student-config conf/prior_student.yaml \\
        --out exp/prior_table_demo --priors "none mel ig eg gradient ig_smooth ig_learn vox1_clean shuffled" \\
        --seeds "1 2 3" [--oracle-band 2000-3000] [--shuffle-seed 0]

Writes <out>/priors/<prior>.npy (and priors.json: where each came from), <out>/conf/<prior>_s<seed>.yaml
(the student config with model.attention and train.seed set: one YAML per experiment) and
<out>/runs.tsv (run, prior, seed). The teacher and its weights stay fixed; the seed changes the
student's initialisation and the egs order (train.seed). Everything is checked before anything is
written; rerunning with the same arguments rewrites identical files (finished runs are untouched:
their exp dirs refuse a changed config).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from datasets.atomic import atomic_write_bytes, atomic_write_text
from datasets.kaldi_files import DataDirError
from models.prior_variants import band_indicator, shuffled, smooth_alternation
from steps.config import ConfigError, load_config, validate
from steps.experiment import npy_bytes, read_exp, resolve_prior
from steps.make_synthetic import parse_band
from steps.plotting import feature_axes
from steps.runtime import HelpFormatter

# prior name -> (teacher method whose freq_weights it uses or None, learn_prior, meaning)
PRIORS = {
    "none": (None, False, "no attention layer (the bare student)"),
    "mel": (None, False, "mel-scale density of the bins (the paper's hand-made prior)"),
    "ig": ("integrated_gradients", False, "teacher's Integrated Gradients weights"),
    "eg": ("expected_gradients", False, "teacher's Expected Gradients weights"),
    "gradient": ("gradient", False, "teacher's plain-gradient weights"),
    "ig_smooth": ("integrated_gradients", False, "IG weights smoothed by [1/4, 1/2, 1/4] (no even/odd zig-zag)"),
    "ig_learn": ("integrated_gradients", True, "learnable per-bin prior initialised from IG"),
    "vox1_clean": (None, False, "published VoxCeleb1 clean-teacher vector (161-bin spectrograms only)"),
    "shuffled": ("integrated_gradients", False, "IG values in a seeded random bin order"),
    "oracle": (None, False, "the planted band itself (needs --oracle-band)"),
    "uniform": (None, False, "the same value in every bin: the layer's w, b without any frequency shape"),
}


def weights_path(teacher: Path, method: str) -> Path:
    return teacher / "gradients" / method / "freq_weights.npy"


def prior_vector(name: str, teacher: Path, feat_dim: int, band, hz, shuffle_seed: int) -> np.ndarray | None:
    method = PRIORS[name][0]
    if name == "none":
        return None
    if name in ("mel", "vox1_clean"):
        return resolve_prior(name, feat_dim)
    if name == "uniform":
        return np.ones(feat_dim)
    if name == "oracle":
        if band is None:
            raise ConfigError("prior 'oracle' needs --oracle-band LO-HI (the planted band, Hz)")
        return band_indicator(hz, band)
    path = weights_path(teacher, method)
    if not path.is_file():
        raise ConfigError(f"prior {name!r}: {path} missing; run ./b_extract.sh --teacher-exp {teacher} --method {method}")
    v = resolve_prior(str(path), feat_dim)
    return smooth_alternation(v) if name == "ig_smooth" else shuffled(v, shuffle_seed) if name == "shuffled" else v


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


def plan(a) -> tuple[dict[str, np.ndarray | None], dict[str, dict], list[tuple[str, str, int]], dict]:
    priors = parse_list(a.priors, "priors")
    unknown = [p for p in priors if p not in PRIORS]
    if unknown:
        raise ConfigError(f"--priors: unknown {unknown}; valid: {', '.join(PRIORS)}")
    seeds = [int(s) for s in parse_list(a.seeds, "seeds")]
    teacher = Path(a.teacher_exp)
    tcfg, tinputs = read_exp(teacher)
    base = load_config(a.student_config)
    feat_dim = base["data"]["feat_dim"]
    if (tcfg["data"]["feat_type"], tcfg["data"]["feat_dim"]) != (base["data"]["feat_type"], feat_dim):
        raise ConfigError(f"{a.student_config}: features {base['data']['feat_type']}/{feat_dim} differ from the teacher's "
                          f"{tcfg['data']['feat_type']}/{tcfg['data']['feat_dim']} ({teacher})")
    hz = feature_axes(teacher, tinputs, feat_dim)[0]
    vectors = {p: prior_vector(p, teacher, feat_dim, a.oracle_band, hz, a.shuffle_seed) for p in priors}
    out = Path(a.out)
    configs, runs = {}, []
    for s in seeds:  # seed-major: a partial table has every prior at its first seeds
        for p in priors:
            run = f"{p}_s{s}"
            configs[run] = run_config(base, p, out / "priors" / f"{p}.npy", s)
            runs.append((run, p, s))
    meta = {p: {"meaning": PRIORS[p][2], "teacher": str(teacher) if PRIORS[p][0] else None, "method": PRIORS[p][0],
                "learn_prior": PRIORS[p][1]} for p in priors}
    return vectors, configs, runs, meta


def write(out: Path, vectors, configs, runs, meta) -> None:
    for p, v in vectors.items():
        if v is not None:
            atomic_write_bytes(out / "priors" / f"{p}.npy", npy_bytes(v))
    atomic_write_text(out / "priors.json", json.dumps(meta, indent=1) + "\n")
    for run, cfg in configs.items():
        atomic_write_text(out / "conf" / f"{run}.yaml", yaml.safe_dump(cfg, sort_keys=False))
    atomic_write_text(out / "runs.tsv", "".join(f"{r}\t{p}\t{s}\n" for r, p, s in runs))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--teacher-exp", required=True)
    p.add_argument("--student-config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--priors", default="none ig shuffled", help=f"any of: {' '.join(PRIORS)} (default: %(default)s)")
    p.add_argument("--seeds", default="1 2 3", help="student seeds (default: %(default)s)")
    p.add_argument("--oracle-band", type=parse_band, default=None, help="LO-HI Hz: the band of the 'oracle' prior")
    p.add_argument("--shuffle-seed", type=int, default=0, help="bin order of the 'shuffled' prior (default: %(default)s)")
    a = p.parse_args(argv)
    try:
        vectors, configs, runs, meta = plan(a)
        write(Path(a.out), vectors, configs, runs, meta)
    except (ConfigError, DataDirError, ValueError, OSError) as e:
        print(f"prior_runs: error: {e}", file=sys.stderr)
        return 1
    print(f"prior_runs: {len(runs)} runs ({len(vectors)} priors x {len(runs) // max(len(vectors), 1)} seeds) in {a.out}/runs.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())

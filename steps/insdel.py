"""Insertion / deletion curves of every saliency method of a teacher (``b_extract.sh`` stage 3).

    python -m steps.insdel --exp-dir exp/demo_rescnn [--methods integrated_gradients grad_cam ...]
        [--levels points rows] [--point-fills time_mean dataset_mean zero] [--row-fills dataset_mean]
        [--insert-grid 0,0.05,...,1]
        [--delete-grid 0,0.005,...,1] [--point-value signed|abs] [--smooth 0] [--oracle-band 2000-3000]
        [--seed 0] [--batch-size 16] [--device auto|cpu|cuda] [--out <exp>/insdel]

Reads each method's maps (<exp>/gradients/<method>/maps.scp, made by ``b_extract.sh`` stage 1 with the
same --utts-per-spk and --seed for every method: the methods must cover the same utterances), the
teacher and its head from <exp>, and the features of the data dir the maps were made on. For every
utterance, ranking, fill and mode it classifies all proportions of the grid in batches and records
top-1/top-5 accuracy (gradients/faithfulness.py). Units: ``points`` ranked by the map's value (signed, as the
paper; ``--point-value abs`` ranks magnitudes) and ``rows`` ranked by the method's per-bin weight vector
(mean over utterances of the time-mean |map|, b_extract's reduction). References: ``random`` (seeded
random map / bin order) and, with --oracle-band, ``oracle`` (the band's bins first). Finished
utterances are appended to <out>/progress/<settings>.jsonl, so a killed run resumes where it stopped.
Writes <out>/{curves.csv,curves.json,auc.csv,results.md} and <out>/plots/{insert,delete}[_rows].png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from datasets.ark_read import read_rows
from datasets.kaldi_files import DataDirError, read_dict
from gradients import faithfulness
from gradients.reduce import frequency_weights, utterance_profile
from losses import build_loss
from recipe.experiment import check_feature_conf, exp_labels, load_exp_model
from recipe.faithfulness_report import write_report
from core.cli import HelpFormatter, pick_device, positive_int
from core.progress import progress
from core.allocator import tune_allocator
from training.checkpoint import CheckpointError, load_checkpoint
from core.errors import CLI_ERRORS, fail


def grid_arg(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of proportions: {text!r}") from None


def band_arg(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--oracle-band wants LO-HI in Hz, got {text!r}") from None
    if not 0 <= lo < hi:
        raise argparse.ArgumentTypeError(f"--oracle-band needs 0 <= LO < HI, got {text!r}")
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True, help="the teacher experiment")
    p.add_argument("--methods", nargs="+", default=None, help="default: every method with <exp>/gradients/*/maps.scp")
    p.add_argument("--levels", nargs="+", default=list(faithfulness.LEVELS), choices=faithfulness.LEVELS)
    p.add_argument(
        "--point-fills",
        nargs="+",
        default=list(faithfulness.FILLS),
        choices=faithfulness.FILLS,
        help="what replaces deleted / not yet inserted points",
    )
    p.add_argument(
        "--row-fills",
        nargs="+",
        default=["dataset_mean"],
        choices=faithfulness.FILLS,
        help="what replaces whole rows (any constant row is the same neutral row after the models' "
        "per-bin mean normalisation, so one fill is enough for them)",
    )
    p.add_argument("--insert-grid", type=grid_arg, default=faithfulness.INSERTION_GRID, help="insertion proportions")
    p.add_argument("--delete-grid", type=grid_arg, default=faithfulness.DELETION_GRID, help="deletion proportions")
    p.add_argument("--point-value", default="signed", choices=["signed", "abs"], help="what ranks points")
    p.add_argument("--smooth", type=int, default=0, help="box-average maps over N x N points before ranking (0: off)")
    p.add_argument("--oracle-band", type=band_arg, default=None, help="LO-HI Hz: add the oracle map of a planted band")
    p.add_argument("--data-dir", default=None, help="default: the data dir the maps were made on")
    p.add_argument("--seed", type=int, default=0, help="random reference maps and tie breaking")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=16,
        help="inputs per forward pass (16 measured fastest on a 2-core CPU, bench/faithfulness.py; larger on GPUs)",
    )
    p.add_argument("--checkpoint", default="auto")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", default=None, help="default: <exp>/insdel")
    return p


def discover(exp: Path, methods: list[str] | None) -> dict[str, dict[str, str]]:
    """method -> {utt: map spec}; every method must have maps for the same utterances."""
    root = exp / "gradients"
    names = methods or sorted(p.parent.name for p in root.glob("*/maps.scp"))
    if not names:
        raise DataDirError(f"{root}: no */maps.scp; extract maps first (./b_extract.sh --stop-stage 1 --method ...)")
    maps = {}
    for m in names:
        scp = root / m / "maps.scp"
        if not scp.exists():
            raise DataDirError(f"{scp} not found: extract {m}'s maps first (./b_extract.sh --stop-stage 1 --method {m})")
        maps[m] = read_dict(scp)
    every = set().union(*maps.values())
    for m, d in maps.items():
        missing = sorted(every - set(d))
        if missing:
            raise DataDirError(
                f"{root / m / 'maps.scp'}: no maps for {len(missing)} of the {len(every)} utterances "
                f"the other methods have (first: {missing[0]}); extract every method with the same "
                "--utts-per-spk and --seed"
            )
    return maps


def source_dir(a, exp: Path, maps: dict) -> Path:
    if a.data_dir:
        return Path(a.data_dir)
    dirs = {}
    for m in maps:
        rec = exp / "gradients" / m / "extract.json"
        if rec.exists():
            dirs[m] = json.loads(rec.read_text())["data_dir"]
    if len({Path(v).resolve() for v in dirs.values()}) > 1:  # one dir named relatively and absolutely is one
        raise DataDirError(f"the methods' maps come from different data dirs: {dirs}; give --data-dir")
    if not dirs:
        raise DataDirError(f"{exp}/gradients/*/extract.json name no data dir; give --data-dir")
    return Path(next(iter(dirs.values())))


def load_map(method: str, utt: str, spec: str, shape: tuple) -> np.ndarray:
    m = read_rows(spec, {})
    if m.shape != shape:
        raise DataDirError(
            f"{method} map of {utt} is {m.shape[0]} x {m.shape[1]} but its features are "
            f"{shape[0]} x {shape[1]} (maps made on other features?)"
        )
    return m


def first_pass(maps: dict, feats: dict, utts: list[str]) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """(frame-weighted mean spectrum (freq,), method -> per-bin weight vector: the
    mean over utterances of the time-mean |map|), streaming over the utterances; checks every map's shape."""
    total, frames = 0.0, 0
    profiles: dict[str, list] = {m: [] for m in maps}
    for u in utts:
        x = read_rows(feats[u], {})
        total, frames = total + x.sum(0, dtype=np.float64), frames + len(x)
        for m, d in maps.items():
            profiles[m].append(utterance_profile(load_map(m, u, d[u], x.shape), "abs"))
    mean = torch.from_numpy((total / frames).astype(np.float32))
    return mean, {m: frequency_weights(p) for m, p in profiles.items()}


def band_bins(exp: Path, inputs: dict, n_bins: int, band) -> np.ndarray:
    from recipe.plotting import feature_axes
    from models.priors import band_indicator

    return band_indicator(feature_axes(exp, inputs, n_bins)[0], band).astype(bool)


def rankings(a, maps, vectors, utt, x_shape, rng, band) -> dict:
    """(name, level) -> rank tensor for one utterance."""
    out = {}
    for m, d in maps.items():
        if "points" in a.levels:
            v = faithfulness.smooth(load_map(m, utt, d[utt], x_shape), a.smooth)
            out[(m, "points")] = torch.from_numpy(faithfulness.ranks(np.abs(v) if a.point_value == "abs" else v, rng))
        if "rows" in a.levels:
            out[(m, "rows")] = torch.from_numpy(faithfulness.ranks(vectors[m], rng))
    refs = {"random": (rng.random(x_shape), rng.random(x_shape[1]))}
    if band is not None:
        refs["oracle"] = (np.broadcast_to(band.astype(float), x_shape), band.astype(float))
    for name, (pts, rows) in refs.items():
        for level, values in (("points", pts), ("rows", rows)):
            if level in a.levels:
                out[(name, level)] = torch.from_numpy(faithfulness.ranks(values, rng))
    return out


def settings_key(a, maps: dict, ckpt: Path) -> str:
    h = hashlib.sha256(
        json.dumps(
            {k: v for k, v in vars(a).items() if k not in ("device", "batch_size", "out")}, sort_keys=True, default=str
        ).encode()
    )
    for m in sorted(maps):
        h.update(m.encode() + json.dumps(sorted(maps[m].items())).encode())
    h.update(str(ckpt.stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]


def read_progress(path: Path) -> dict:
    """utt -> record of a finished utterance; a torn last line (killed mid-write) is dropped."""
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[rec["utt"]] = rec
    return done


def classifier(model, head):
    def classify(batch):
        return head(model(batch))  # (rows, classes): the head's inference logits, no margin

    return classify


def load_teacher(a, exp: Path, device):
    model, cfg, ckpt, head_state = load_exp_model(exp, a.checkpoint, device)
    labels = exp_labels(exp, cfg["inputs"])
    if head_state is None:
        head_state = load_checkpoint(exp / "checkpoints" / "last.pt").get("head")
    if not head_state:
        raise CheckpointError(
            f"{exp}: the teacher's checkpoint has no classification head; insertion/deletion scores closed-set speaker ID"
        )
    head = build_loss(cfg["loss"], model.emb_dim, len(labels))
    head.load_state_dict(head_state)
    return model, head.to(device).eval(), cfg, ckpt, labels


def source_tables(a, exp: Path, cfg: dict, maps: dict, labels: dict) -> tuple[Path, dict, dict, list[str]]:
    """(data dir, feats, utt2spk, mapped utterances); each must have features, a speaker and a teacher label."""
    d = source_dir(a, exp, maps)
    note = check_feature_conf(exp, cfg["inputs"], d)
    if note:
        print(f"insdel: {note}", file=sys.stderr)
    feats, u2s = read_dict(d / "feats.scp"), read_dict(d / "utt2spk")
    utts = sorted(next(iter(maps.values())))
    lost = [u for u in utts if u not in feats or u not in u2s or u2s[u] not in labels]
    if lost:
        raise DataDirError(f"{d}: {len(lost)} mapped utterance(s) have no features, speaker or teacher label (first: {lost[0]})")
    return d, feats, u2s, utts


def utterance_record(a, ctx: dict, i: int, u: str) -> dict:
    """One utterance's hit strings ('0'/'1' per proportion) for every method, level, fill and mode."""
    x = torch.from_numpy(read_rows(ctx["feats"][u], {})).to(ctx["device"])  # (time, freq)
    rng = np.random.default_rng([a.seed, i])
    ranked = rankings(a, ctx["maps"], ctx["vectors"], u, tuple(x.shape), rng, ctx["band"])
    mean = ctx["dataset_mean"].to(ctx["device"])
    fills = {f: faithfulness.fill_for(f, x, mean) for f in {*a.point_fills, *a.row_fills}}
    specs = [(k, f, mode) for k in ranked for f in (a.point_fills if k[1] == "points" else a.row_fills) for mode in ctx["grids"]]
    label = ctx["labels"][ctx["u2s"][u]]
    curves = faithfulness.utterance_curves(ctx["classify"], x, label, ranked, ctx["grids"], fills, a.batch_size, specs)
    hits = {"|".join(k[0]) + f"|{k[1]}|{k[2]}": ["".join("01"[int(b)] for b in v) for v in hit] for k, hit in curves.items()}
    return {"utt": u, "curves": hits}


def run(a) -> str:
    for g, name in ((a.insert_grid, "--insert-grid"), (a.delete_grid, "--delete-grid")):
        faithfulness.check_grid(g, name)
    exp = Path(a.exp_dir)
    out = Path(a.out or exp / "insdel")
    maps = discover(exp, a.methods)
    device = pick_device(a.device)
    model, head, cfg, ckpt, labels = load_teacher(a, exp, device)
    d, feats, u2s, utts = source_tables(a, exp, cfg, maps, labels)
    dataset_mean, vectors = first_pass(maps, feats, utts)
    band = band_bins(exp, cfg["inputs"], len(dataset_mean), a.oracle_band) if a.oracle_band else None
    grids = {"insertion": np.asarray(a.insert_grid), "deletion": np.asarray(a.delete_grid)}
    ctx = {
        "feats": feats,
        "u2s": u2s,
        "labels": labels,
        "maps": maps,
        "vectors": vectors,
        "band": band,
        "grids": grids,
        "dataset_mean": dataset_mean,
        "device": device,
        "classify": classifier(model, head),
    }
    resume = out / "progress" / f"{settings_key(a, maps, ckpt)}.jsonl"
    done = read_progress(resume)
    todo = [i for i, u in enumerate(utts) if u not in done]
    print(
        f"insdel: {len(utts)} utterances x {len(maps)} methods from {d}; {len(utts) - len(todo)} already done ({resume})",
        file=sys.stderr,
    )
    resume.parent.mkdir(parents=True, exist_ok=True)
    with open(resume, "a") as log:
        for i in progress(todo, len(todo), "insdel", "utt"):
            done[utts[i]] = rec = utterance_record(a, ctx, i, utts[i])
            log.write(json.dumps(rec) + "\n")
            log.flush()
    summary = write_report(out, {u: done[u] for u in utts}, grids, exp.name, a)
    return f"{out}: {len(utts)} utterances, {len(maps)} methods; {summary}"


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    tune_allocator()
    torch.manual_seed(a.seed)
    try:
        print(f"insdel: {run(a)}")
    except CLI_ERRORS as e:
        return fail("insdel", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

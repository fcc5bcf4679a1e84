"""An experiment dir owns its inputs: what training records there and what every later stage reads.

At training start ``exp/<name>/`` gets, beside the resolved hyper-parameters in ``config.yaml``:
``spk2label`` (the egs' label index), ``feats.conf`` (the feature options the egs were made with,
when the data dir recorded them), ``prior.npy`` (a student's attention prior *values*), and an
``inputs`` section in config.yaml: the egs dir and its content fingerprint, the source data dir, the
feature type, the prior's source and sha256. Embeddings, scoring and saliency read only these.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from core.atomic import atomic_write_bytes, atomic_write_text
from datasets.kaldi_files import DataDirError, read_dict
from models.info import count_macs, count_params
from models.priors import PUBLISHED, check_prior, mel_prior, read_published
from core.errors import ConfigError
from models.registry import build_model
from recipe.config import validate
from training.checkpoint import CheckpointError, load_checkpoint, load_state_strict

EGS_INDEX = ("egs.json", "feats.scp", "utt2label", "egs2src")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def egs_fingerprint(egs: Path) -> str:
    """sha256 over the label index, each set's index files and the sizes of the arks they name."""
    h = hashlib.sha256((egs / "spk2label").read_bytes())
    for part in ("train", "valid"):
        arks: list[str] = []
        for name in EGS_INDEX:
            f = egs / part / name
            data = f.read_bytes() if f.exists() else b"<absent>"
            h.update(f"{part}/{name}:".encode() + data)
            if name == "feats.scp" and f.exists():  # "<key> <ark>:<offset>" lines
                arks = sorted({ln.split(None, 1)[-1].rsplit(":", 1)[0] for ln in data.decode().splitlines() if ln})
        sizes = [(a, Path(a).stat().st_size if Path(a).exists() else None) for a in arks]
        h.update(json.dumps(sizes).encode())
    return h.hexdigest()


def egs_inputs(egs: Path, cfg: dict) -> tuple[dict, dict[str, bytes]]:
    """(the ``inputs`` record of an egs dir, files to copy into the exp) after checking it fits ``cfg``."""
    for f in ("spk2label", "train/egs.json", "train/feats.scp"):
        if not (egs / f).exists():
            raise DataDirError(f"{egs}/{f}: missing; make the egs first (a_prep_egs.sh stage 5)")
    meta = json.loads((egs / "train" / "egs.json").read_text())
    feat_type = meta.get("feat_type", "")
    if feat_type != cfg["data"]["feat_type"]:
        raise ConfigError(f"{egs}: egs of {feat_type!r} features but data.feat_type is {cfg['data']['feat_type']!r}")
    egs_vad = bool(meta.get("vad", False))
    if egs_vad != cfg["data"]["vad"]:
        raise ConfigError(
            f"{egs}: egs cut {'from voiced frames only' if egs_vad else 'without VAD'} but data.vad is "
            f"{str(cfg['data']['vad']).lower()}; "
            + ("set data.vad: true" if egs_vad else "make VAD egs with a_prep_egs.sh --vad true")
        )
    copies = {"spk2label": (egs / "spk2label").read_bytes()}
    if egs_vad and (egs / "vad.conf").exists():
        copies["vad.conf"] = (egs / "vad.conf").read_bytes()
    conf = egs / "feats.conf"
    if conf.exists():
        copies["feats.conf"] = conf.read_bytes()
    else:
        print(
            f"recipe.experiment: warning: {egs} records no feature conf (egs made before it was recorded, or "
            f"features not made by steps/make_{feat_type}.sh); plots will assume {feat_type} defaults"
        )
    num_classes = len(read_dict(egs / "spk2label"))
    if num_classes < 2:
        raise DataDirError(f"{egs}/spk2label: {num_classes} speaker(s); training a speaker classifier needs at least 2")
    inputs = {
        "egs_dir": str(egs.resolve()),
        "egs_fingerprint": egs_fingerprint(egs),
        "data_dir": meta.get("data_dir"),
        "feat_type": feat_type,
        "feat_conf": "feats.conf" if conf.exists() else None,
        "feat_conf_sha256": sha256(copies["feats.conf"]) if conf.exists() else None,
        "spk2label": "spk2label",
        "num_classes": num_classes,
    }
    return inputs, copies


def resolve_prior(spec: str, feat_dim: int) -> np.ndarray:
    """A prior vector from ``mel``, a published name, or a .npy / text file; checked, not normalised."""
    if spec == "mel":
        v = mel_prior(feat_dim)
    elif spec in PUBLISHED:
        v = read_published(PUBLISHED[spec])
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"attention prior {spec!r}: not one of mel, {', '.join(PUBLISHED)} and no such file")
        try:
            v = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
        except ValueError as e:
            raise ConfigError(f"attention prior {path}: cannot parse numbers ({e})") from None
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 1:
            raise ConfigError(f"attention prior {path}: a {'x'.join(map(str, v.shape))} array, not one value per bin")
    try:
        check_prior(v, feat_dim, spec)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return v


def npy_bytes(v: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(v, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def prior_record(cfg: dict) -> tuple[dict | None, dict[str, bytes], np.ndarray | None]:
    """(the ``inputs.prior`` record, {prior.npy: bytes}, the values) of a config with attention, else
    (None, {}, None)."""
    att = cfg["model"].get("attention")
    if not att:
        return None, {}, None
    values = resolve_prior(str(att["prior"]), cfg["data"]["feat_dim"])
    data = npy_bytes(values)
    return {"source": str(att["prior"]), "sha256": sha256(data), "file": "prior.npy"}, {"prior.npy": data}, values


def check_same_inputs(saved: dict, new: dict, where: Path) -> None:
    """Resuming against other egs, data or prior is an error naming what differs."""
    diff = [
        f"inputs.{k}: was {saved.get(k)!r}, now {new.get(k)!r}"
        for k in sorted(set(saved) | set(new))
        if saved.get(k) != new.get(k)
    ]
    if diff:
        raise ConfigError(
            f"{where} was trained on other inputs ({'; '.join(diff[:3])}); to train on these use "
            "another --exp-dir, or remove the old one"
        )


def write_inputs(exp: Path, full_cfg: dict, copies: dict[str, bytes]) -> None:
    for name, data in copies.items():
        atomic_write_bytes(exp / name, data)
    atomic_write_text(exp / "config.yaml", yaml.safe_dump(full_cfg, sort_keys=False))


def same_config(saved, full: dict) -> bool:
    """Whether a checkpoint's or config.yaml's config is ``full``, counting keys added to the schema
    since it was written at their defaults (data.vad: false)."""
    if not isinstance(saved, dict):
        return False
    saved = dict(saved)
    inputs = saved.pop("inputs", None)
    if inputs is None and "inputs" in full:
        return False
    try:
        resolved = validate(saved, "saved config")
    except ConfigError:
        return False
    return ({**resolved, "inputs": inputs} if "inputs" in full else resolved) == full


def read_exp(exp: Path) -> tuple[dict, dict]:
    """(validated hyper-parameter config, inputs) of a trained experiment dir."""
    path = exp / "config.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: missing; train the experiment first")
    saved = yaml.safe_load(path.read_text()) or {}
    inputs = saved.pop("inputs", None)
    if not isinstance(inputs, dict):
        raise ConfigError(
            f"{path}: no 'inputs' section; it was written before experiments recorded their inputs: "
            "retrain it (or train into another --exp-dir)"
        )
    return validate(saved, str(path)), inputs


def exp_prior(exp: Path, inputs: dict) -> np.ndarray | None:
    """The student's prior values from exp/prior.npy, checked against the sha256 in config.yaml."""
    rec = inputs.get("prior")
    if not rec:
        return None
    path = exp / rec["file"]
    if not path.exists() or sha256(path.read_bytes()) != rec["sha256"]:
        raise ConfigError(f"{path}: missing or changed since training (sha256 in {exp}/config.yaml differs)")
    return np.load(path, allow_pickle=False)


def with_prior(model_cfg: dict, prior: np.ndarray | None) -> dict:
    """The model section with the attention prior's spec replaced by its values (what models take)."""
    if not model_cfg.get("attention"):
        return model_cfg
    return {**model_cfg, "attention": {**model_cfg["attention"], "prior": prior}}


def exp_labels(exp: Path, inputs: dict) -> dict[str, int]:
    return {s: int(i) for s, i in read_dict(exp / inputs["spk2label"]).items()}


def pick_checkpoint(exp: Path, cfg: dict, which: str) -> Path:
    ckdir = exp / "checkpoints"
    if which == "auto":
        avg = ckdir / f"avg_{cfg['train']['average_last']}.pt"
        return avg if avg.exists() else ckdir / "last.pt"
    if which.isdigit():
        return ckdir / f"checkpoint_{which}.pt"
    return ckdir / (which if which.endswith(".pt") else f"{which}.pt")


def load_exp_model(exp: Path, which: str = "auto", device="cpu") -> tuple[torch.nn.Module, dict, Path, dict | None]:
    """(model in eval mode, config with its ``inputs``, checkpoint path, head state or None for averaged
    checkpoints) of an experiment dir; only files inside ``exp`` are read."""
    cfg, inputs = read_exp(exp)
    full = {**cfg, "inputs": inputs}
    path = pick_checkpoint(exp, cfg, which)
    ck = load_checkpoint(path)
    if not same_config(ck.get("config"), full):
        raise CheckpointError(f"{path} was written with another config than {exp}/config.yaml")
    model = build_model(with_prior(cfg["model"], exp_prior(exp, inputs)), cfg["data"]["feat_dim"])
    load_state_strict(model, ck["model"], str(path))
    return model.to(device).eval(), full, path, ck.get("head")


def check_feature_conf(exp: Path, inputs: dict, data_dir: Path) -> str | None:
    """An error text when ``data_dir``'s features were made with another conf than the experiment's;
    a warning text when either side recorded none; None when they agree."""
    theirs = data_dir / "conf" / "feats.conf"
    if not inputs.get("feat_conf_sha256") or not theirs.exists():
        return f"warning: cannot check that {data_dir}'s features match {exp}'s (no recorded feature conf)"
    if sha256(theirs.read_bytes()) != inputs["feat_conf_sha256"]:
        raise DataDirError(
            f"{theirs} differs from {exp}/feats.conf: these features were made with other options "
            "than the experiment was trained on"
        )
    return None


def scored_lists(exp: Path) -> dict[str, dict]:
    """name -> the record steps.score wrote for each cosine-scored trials list of the experiment."""
    out = {}
    for f in sorted((exp / "scores").glob("*.json")):
        rec = json.loads(f.read_text())
        if isinstance(rec, dict) and rec.get("norm") == "cosine" and "eer" in rec:
            out[f.stem] = rec
    return out


def model_facts(exp: Path) -> dict:
    """Parameters, MACs at 300 frames and, with attention, the learned w, b, gains and prior of an experiment."""
    model, cfg, _, _ = load_exp_model(exp)
    facts = {"params": count_params(model), "macs": count_macs(model, 300, cfg["data"]["feat_dim"])}
    att = getattr(getattr(model, "frontend", None), "attention", None)
    if att is not None:
        facts.update(
            w=float(att.w.detach()),
            b=float(att.b.detach()),
            gains=att.gains().detach().numpy().astype(np.float64),
            prior_values=att.prior.detach().numpy().astype(np.float64),
        )
    return facts

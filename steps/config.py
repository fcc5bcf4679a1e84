"""Experiment configs: one YAML per experiment, merged over defaults, checked strictly.

Sections and their keys are fixed by DEFAULTS (``model`` and ``loss`` are checked against the
registries instead). ``--set a.b=c`` overrides must name an existing key; values are parsed as YAML
scalars/lists. Every error lists the valid choices and is raised before any work starts.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from models.frontend import ATTENTION_KEYS
from models.registry import LOSSES, MODELS, ConfigError, check_loss_config, check_model_config, valid_args

DEFAULTS: dict = {
    "data": {"feat_type": "spect", "feat_dim": 161},
    "model": {},
    "loss": {"name": "AAMSoftmax", "margin": 0.2, "scale": 30.0},
    "margin_warmup": {"steps": 0, "start": 0},
    "optim": {"name": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 5.0e-4, "nesterov": False},
    "scheduler": {"name": "ReduceLROnPlateau", "factor": 0.1, "patience": 2, "min_lr": 1.0e-5,
                  "milestones": [], "max_lr": 0.0},
    "train": {"epochs": 50, "batch_size": 128, "crop_min": 200, "crop_max": 400, "valid_frames": 300,
              "seed": 123456, "test_every": 4, "num_workers": 2, "keep_last": 5, "average_last": 0,
              "amp": "none", "channels_last": False, "init_from": ""},
}
FEAT_TYPES = ("spect", "fbank", "mfcc")
OPTIMIZERS = ("SGD", "Adam", "AdamW")
SCHEDULERS = ("ReduceLROnPlateau", "MultiStepLR", "CosineAnnealingLR", "CyclicLR")


def _merge(base: dict, over: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in base:
            raise ConfigError(f"{where}: unknown key {k!r}; valid: {', '.join(base)}")
        out[k] = _merge(base[k], v, f"{where}.{k}") if isinstance(base[k], dict) and base[k] and isinstance(v, dict) else v
    return out


def _resolve(raw: dict, where: str) -> dict:
    """Defaults + ``raw``; model/loss sections replace (not merge) when they change ``name``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections ({', '.join(DEFAULTS)})")
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    cfg = _merge({k: v for k, v in DEFAULTS.items() if k not in ("model", "loss")},
                 {k: v for k, v in raw.items() if k not in ("model", "loss")}, where)
    cfg["model"] = copy.deepcopy(raw.get("model", {}))
    loss = raw.get("loss", {})
    cfg["loss"] = {**(DEFAULTS["loss"] if loss.get("name", "AAMSoftmax") == "AAMSoftmax" else {}), **loss}
    return cfg


def validate(cfg: dict, where: str = "config") -> dict:
    try:
        check_model_config(cfg["model"])
        check_loss_config(cfg["loss"])
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    if cfg["data"]["feat_type"] not in FEAT_TYPES:
        raise ConfigError(f"{where}: data.feat_type {cfg['data']['feat_type']!r}; valid: {', '.join(FEAT_TYPES)}")
    for section, names in (("optim", OPTIMIZERS), ("scheduler", SCHEDULERS)):
        if cfg[section]["name"] not in names:
            raise ConfigError(f"{where}: {section}.name {cfg[section]['name']!r}; valid: {', '.join(names)}")
    if cfg["train"]["amp"] not in ("none", "bf16", "fp16"):
        raise ConfigError(f"{where}: train.amp {cfg['train']['amp']!r}; valid: none, bf16, fp16")
    t = cfg["train"]
    if not 0 < t["crop_min"] <= t["crop_max"]:
        raise ConfigError(f"{where}: need 0 < train.crop_min <= train.crop_max, got {t['crop_min']}, {t['crop_max']}")
    return cfg


def parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected a.b=value")
    key, _, value = text.partition("=")
    return key.strip().split("."), yaml.safe_load(value) if value.strip() else ""


def _allowed(node, where: str) -> list[str]:
    if where in ("config.model", "config.loss"):
        registry = MODELS if where == "config.model" else LOSSES
        name = node.get("name")
        return ["name", *valid_args(registry[name])] if name in registry else ["name"]
    if where == "config.model.attention":
        return sorted(ATTENTION_KEYS)
    return list(node) if isinstance(node, dict) else []


def apply_override(cfg: dict, text: str) -> None:
    """Set ``a.b=value`` in ``cfg``; the key must exist (or be a valid model/loss argument)."""
    path, value = parse_override(text)
    node, where = cfg, "config"
    for i, k in enumerate(path):
        allowed = _allowed(node, where)
        if k not in allowed:
            raise ConfigError(f"--set {text}: unknown key {k!r} in {where}; valid: {', '.join(allowed) or '(none)'}")
        if i == len(path) - 1:
            node[k] = value
        else:
            if node.get(k) is None:
                node[k] = {}
            node, where = node[k], f"{where}.{k}"


def load_config(path: str | Path, overrides: list[str] = ()) -> dict:
    """Read ``path`` (yaml.safe_load), resolve defaults, apply ``--set`` overrides, validate."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    cfg = _resolve(raw, str(path))
    for o in overrides:
        apply_override(cfg, o)
    return validate(cfg, str(path))

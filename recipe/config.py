"""Experiment configs: one YAML per experiment, merged over defaults, checked strictly.

Every key of ``data``, ``margin_warmup`` and ``train`` has a type and a range (``SCHEMA``); ``optim``
and ``scheduler`` take the keys of the class they name (training/optim.py registries); ``model`` and
``loss`` are checked against their registries. ``--set a.b=c`` overrides must name a key the config
can hold; values are parsed as YAML scalars/lists and are applied to the YAML before defaults, so
``--set optim.name=SGD`` brings SGD's keys. Every error lists the valid choices and is raised before
any work starts or anything is written.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

from losses import LOSSES, check_loss_config
from models.frontend import ATTENTION_KEYS
from models.registry import MODELS, check_model_config
from core.errors import ConfigError
from core.spec import Spec, valid_args
from training.optim import OPTIMIZERS, SCHEDULERS

FEAT_TYPES = ("spect", "fbank", "mfcc")
POS = {"lo": 1}
FRACTION = Spec(0.0, float, lo=0.0, hi=1.0)
# (section, keys, keys a --set of one of them removes from the YAML): one budget, one margin schedule
EXCLUSIVE = [
    ("train", {"steps"}, {"epochs", "passes"}),
    ("train", {"epochs"}, {"steps", "passes"}),
    ("train", {"passes"}, {"steps", "epochs"}),
    ("margin_warmup", {"steps", "start"}, {"fraction", "start_fraction"}),
    ("margin_warmup", {"fraction", "start_fraction"}, {"steps", "start"}),
]
SCHEMA: dict[str, dict[str, Spec]] = {
    "data": {"feat_type": Spec("spect", str, choices=FEAT_TYPES), "feat_dim": Spec(161, int, **POS), "vad": Spec(False, bool)},
    # margin 0 -> loss.margin: over ``steps`` after ``start`` steps, or over ``fraction`` of the budget
    # after ``start_fraction`` of it (one or the other)
    "margin_warmup": {"steps": Spec(0, int, lo=0), "start": Spec(0, int, lo=0), "fraction": FRACTION, "start_fraction": FRACTION},
    # budget: steps, else epochs, else passes over the egs (training/budget.py)
    "train": {
        "epochs": Spec(0, int, lo=0),
        "steps": Spec(0, int, lo=0),
        "passes": Spec(20.0, float, lo=0.0, lo_open=True),
        "grad_clip": Spec(0.0, float, lo=0.0),
        "converge_tol": Spec(0.03, float, lo=0.0, lo_open=True),
        "batch_size": Spec(128, int, **POS),
        "crop_min": Spec(200, int, **POS),
        "crop_max": Spec(400, int, **POS),
        "valid_frames": Spec(300, int, **POS),
        "seed": Spec(123456, int, lo=0),
        "test_every": Spec(4, int, **POS),
        "num_workers": Spec(2, int, lo=0),
        "keep_last": Spec(5, int, lo=0),
        "average_last": Spec(0, int, lo=0),
        "amp": Spec("none", str, choices=("none", "bf16", "fp16")),
        "channels_last": Spec(False, bool),
        "compile": Spec(False, bool),
        "init_from": Spec("", str),
    },
}
NAMED = {"optim": (OPTIMIZERS, "SGD"), "scheduler": (SCHEDULERS, "ReduceLROnPlateau")}
SECTIONS = ("data", "model", "loss", "margin_warmup", "optim", "scheduler", "train")


def _keys(section: str, name: str | None = None) -> dict[str, Spec]:
    if section in NAMED:
        return NAMED[section][0][name].keys
    return SCHEMA[section]


def _section(raw: dict, section: str, where: str) -> dict:
    """Defaults + the YAML's keys of one fixed-schema or named section, every value checked."""
    given = raw.get(section) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where}.{section}: expected a mapping of keys, got {given!r}")
    out = {}
    if section in NAMED:
        registry, default = NAMED[section]
        out["name"] = given.get("name", default)
        if out["name"] not in registry:
            raise ConfigError(f"{where}: {section}.name {out['name']!r}; valid: {', '.join(registry)}")
    keys = _keys(section, out.get("name"))
    for k in given:
        if k != "name" and k not in keys:
            what = f" for {out['name']}" if "name" in out else ""
            raise ConfigError(f"{where}.{section}: unknown key {k!r}{what}; valid: {', '.join(keys)}")
    for k, spec in keys.items():
        out[k] = spec.check(given.get(k, copy.deepcopy(spec.default)), f"{where}.{section}.{k}")
    return out


def _resolve(raw: dict, where: str) -> dict:
    """Defaults + ``raw``; model/loss sections are taken as given (their registries check them)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of sections ({', '.join(SECTIONS)})")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        hint = " ('inputs' is written by steps.train into exp/<name>/config.yaml)" if "inputs" in unknown else ""
        raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; valid: {', '.join(SECTIONS)}{hint}")
    cfg = {s: _section(raw, s, where) for s in ("data", "margin_warmup", "optim", "scheduler", "train")}
    cfg["model"] = copy.deepcopy(raw.get("model") or {})
    loss = raw.get("loss") or {}
    cfg["loss"] = {
        **({"name": "AAMSoftmax", "margin": 0.2, "scale": 30.0} if loss.get("name", "AAMSoftmax") == "AAMSoftmax" else {}),
        **loss,
    }
    return {s: cfg[s] for s in SECTIONS}


def validate(cfg: dict, where: str = "config") -> dict:
    """Check a resolved config (as read back from exp/<name>/config.yaml, say); returns it."""
    cfg = _resolve(cfg, where)
    try:
        check_model_config(cfg["model"])
        check_loss_config(cfg["loss"])
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    t = cfg["train"]
    if t["epochs"] and t["steps"]:
        raise ConfigError(f"{where}: give train.steps or train.epochs, not both ({t['steps']}, {t['epochs']})")
    m = cfg["margin_warmup"]
    if (m["steps"] or m["start"]) and (m["fraction"] or m["start_fraction"]):
        raise ConfigError(f"{where}: margin_warmup takes steps/start or fraction/start_fraction, not both")
    if m["fraction"] + m["start_fraction"] > 1.0:
        raise ConfigError(
            f"{where}: margin_warmup.start_fraction + fraction must be <= 1, got {m['start_fraction']} + {m['fraction']}"
        )
    if t["crop_min"] > t["crop_max"]:
        raise ConfigError(f"{where}: need train.crop_min <= train.crop_max, got {t['crop_min']}, {t['crop_max']}")
    return cfg


def parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected a.b=value")
    key, _, value = text.partition("=")
    try:
        return key.strip().split("."), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {text}: the value is not valid YAML ({e})") from None


def _allowed(node, where: str) -> list[str]:
    section = where.partition(".")[2]
    if section in ("model", "loss"):
        registry = MODELS if section == "model" else LOSSES
        name = node.get("name")
        return ["name", *valid_args(registry[name])] if name in registry else ["name"]
    if section == "model.attention":
        return sorted(ATTENTION_KEYS)
    if section in NAMED:
        return ["name", *_keys(section, node["name"])]
    if section in SCHEMA:
        return list(SCHEMA[section])
    return list(SECTIONS) if where == "config" else []


def drop_foreign_keys(node: dict, section: str, text: str) -> None:
    """After ``--set optim.name=X``: the YAML's keys that X does not take go, with a note on stderr."""
    registry = NAMED[section][0]
    if node.get("name") not in registry:
        return  # _resolve names the valid choices
    foreign = [k for k in node if k != "name" and k not in registry[node["name"]].keys]
    for k in foreign:
        del node[k]
    if foreign:
        print(f"config: --set {text}: dropped {', '.join(foreign)} (not a key of {node['name']})", file=sys.stderr)


def apply_override(raw: dict, text: str, where: str) -> None:
    """Set ``a.b=value`` in the YAML dict ``raw``; the key must be one the resolved config can hold."""
    path, value = parse_override(text)
    view, node, here = _resolve(raw, where), raw, "config"
    for i, k in enumerate(path):
        allowed = _allowed(view, here)
        if k not in allowed:
            raise ConfigError(f"--set {text}: unknown key {k!r} in {here}; valid: {', '.join(allowed) or '(none)'}")
        if i == len(path) - 1:
            node[k] = value
            if here in ("config.optim", "config.scheduler") and k == "name":
                drop_foreign_keys(node, here.partition(".")[2], text)
            for section, keys, others in EXCLUSIVE:  # the command line's budget replaces the YAML's
                if path[:1] == [section] and k in keys:
                    for other in others:
                        node.pop(other, None)
            return
        if not isinstance(node.get(k), dict):
            node[k] = {}
        view = view.get(k) if isinstance(view.get(k), dict) else {}
        node, here = node[k], f"{here}.{k}"


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""


def _unique_mapping(loader: UniqueKeyLoader, node, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice: at line {seen[key] + 1} and at line {key_node.start_mark.line + 1}",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(text: str):
    """yaml.safe_load with duplicate keys refused (yaml.YAMLError naming both lines)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def check_override_keys(overrides: list[str]) -> None:
    """Two ``--set`` of one key: refused, naming both (the second would silently win)."""
    seen: dict[str, str] = {}
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        if key in seen:
            raise ConfigError(f"--set {key} is given twice ({seen[key]!r} and {o!r}); keep one")
        seen[key] = o


RENAMED = {  # old name -> new name of the paper configs with a prior: <model>_gfa-<prior>.yaml
    "rescnn16_aug.yaml": "rescnn16_gfa-vox1_aug.yaml",
    "rescnn16_clean.yaml": "rescnn16_gfa-vox1_clean.yaml",
    "rescnn16_mel.yaml": "rescnn16_gfa-mel.yaml",
    "rescnn16_vox2.yaml": "rescnn16_gfa-vox2_clean.yaml",
    "rescnn32_aug.yaml": "rescnn32_gfa-vox1_aug.yaml",
    "rescnn32_clean.yaml": "rescnn32_gfa-vox1_clean.yaml",
    "rescnn32_mel.yaml": "rescnn32_gfa-mel.yaml",
    "rescnn32_vox2.yaml": "rescnn32_gfa-vox2_clean.yaml",
    "rescnn64_mel.yaml": "rescnn64_gfa-mel.yaml",
    "tdnn_mel.yaml": "tdnn_gfa-mel.yaml",
    "tdnn_s_aug.yaml": "tdnn_s_gfa-vox1_aug.yaml",
    "tdnn_s_clean.yaml": "tdnn_s_gfa-vox1_clean.yaml",
    "tdnn_s_mel.yaml": "tdnn_s_gfa-mel.yaml",
    "tdnn_s_vox2.yaml": "tdnn_s_gfa-vox2_clean.yaml",
}


def load_config(path: str | Path, overrides: list[str] = ()) -> dict:
    """Read ``path`` (safe YAML, duplicate keys refused), apply ``--set`` overrides, resolve defaults, validate."""
    path = Path(path)
    check_override_keys(list(overrides))
    try:
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        if path.name in RENAMED and not path.exists():
            raise ConfigError(
                f"{path}: renamed to {path.with_name(RENAMED[path.name])} (the paper configs with a "
                "prior are <model>_gfa-<prior>.yaml)"
            ) from None
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    for o in overrides:
        apply_override(raw, o, str(path))
    return validate(raw, str(path))

"""Literal registries of models and losses, and strict builders from config dicts.

``build_model({"name": "ResCNN", "channels": [32, 64, 128], ...}, feat_dim)``: the name must be a
key of MODELS and every other key an argument of that class; anything else fails before any
computation with a message listing the valid choices.
"""
from __future__ import annotations

import inspect

from torch import nn

from losses.margin import AAMSoftmax, AMSoftmax, Softmax
from models.ecapa import ECAPA_TDNN
from models.rescnn import ResCNN
from models.resnet import ResNet34
from models.tdnn import TDNN

MODELS = {"ResCNN": ResCNN, "TDNN": TDNN, "ECAPA_TDNN": ECAPA_TDNN, "ResNet34": ResNet34}
LOSSES = {"Softmax": Softmax, "AMSoftmax": AMSoftmax, "AAMSoftmax": AAMSoftmax}
# arguments supplied by the builder, not by the config
_SUPPLIED = {"feat_dim", "emb_dim", "num_classes"}


class ConfigError(ValueError):
    """A config names an unknown model/loss or argument; the message lists the valid ones."""


def valid_args(cls) -> dict[str, object]:
    """Constructor arguments settable from a config, with their defaults."""
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self" and k not in _SUPPLIED}


def _check(kind: str, registry: dict, cfg: dict) -> tuple[type, dict]:
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise ConfigError(f"{kind}: needs a 'name'; valid: {', '.join(registry)}")
    name = cfg["name"]
    if name not in registry:
        raise ConfigError(f"{kind}.name: unknown {name!r}; valid: {', '.join(registry)}")
    cls = registry[name]
    args = {k: v for k, v in cfg.items() if k != "name"}
    unknown = sorted(set(args) - set(valid_args(cls)))
    if unknown:
        raise ConfigError(f"{kind}: unknown argument(s) {unknown} for {name}; valid: {', '.join(valid_args(cls))}")
    for k, v in args.items():  # YAML lists -> tuples where the default is a tuple
        if isinstance(valid_args(cls)[k], tuple) and isinstance(v, list):
            args[k] = tuple(v)
    return cls, args


def build_model(cfg: dict, feat_dim: int) -> nn.Module:
    cls, args = _check("model", MODELS, cfg)
    try:
        return cls(feat_dim=feat_dim, **args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {cfg['name']}: {e}") from None


def build_loss(cfg: dict, emb_dim: int, num_classes: int) -> nn.Module:
    cls, args = _check("loss", LOSSES, cfg)
    try:
        return cls(emb_dim=emb_dim, num_classes=num_classes, **args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"loss {cfg['name']}: {e}") from None


def check_model_config(cfg: dict) -> None:
    _check("model", MODELS, cfg)


def check_loss_config(cfg: dict) -> None:
    _check("loss", LOSSES, cfg)

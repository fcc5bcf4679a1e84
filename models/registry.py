"""The literal model registry and the strict model builder (the config-key spec is core/spec.py).

``build_model({"name": "ResCNN", "channels": [32, 64, 128], ...}, feat_dim)``: the name must be a
key of MODELS and every other key an argument of that class; anything else fails before any
computation with a message listing the valid choices.
"""

from __future__ import annotations

from torch import nn

from models.ecapa import ECAPA_TDNN
from models.rescnn import ResCNN
from models.resnet import ResNet34
from models.tdnn import TDNN
from core.errors import ConfigError
from core.spec import check_entry

MODELS = {"ResCNN": ResCNN, "TDNN": TDNN, "ECAPA_TDNN": ECAPA_TDNN, "ResNet34": ResNet34}


def build_model(cfg: dict, feat_dim: int) -> nn.Module:
    cls, args = check_entry("model", MODELS, cfg)
    try:
        return cls(feat_dim=feat_dim, **args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {cfg['name']}: {e}") from None


def check_model_config(cfg: dict) -> None:
    check_entry("model", MODELS, cfg)

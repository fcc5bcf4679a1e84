"""The strict-config core: one key's spec (default, type, range, choices) and the check of a registry
entry ({"name": ..., args}) against the constructor it names. Every failure is a ConfigError naming the
key and the valid choices, raised before any work."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

from core.errors import ConfigError

# arguments supplied by the builder, not by the config
_SUPPLIED = {"feat_dim", "emb_dim", "num_classes"}


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


def _string_hint(value, kind: type) -> str:
    """A hint for '1e-3' (YAML 1.1 reads a number without a dot in its mantissa as a string)."""
    if kind is float and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return f" (YAML reads {value} as a string: write it with a dot, e.g. 1.0e-3)"
    return ""


@dataclass(frozen=True)
class Spec:
    """One config key: default, type (bool/int/float/str/list), optional range (for a list: of each
    item), choices, list item type and length. A float (or float item) must be finite: NaN passes no
    comparison, so a range alone would let it through."""

    default: object
    type: type
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple = ()
    item: type | None = None
    length: int | None = None
    hi_open: bool = False

    def _is(self, value, kind: type) -> bool:
        if kind is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, (list, tuple)) if kind is list else isinstance(value, kind)

    def check(self, value, where: str):
        """``value`` normalised (ints as floats for float keys, tuples as lists), or ConfigError."""
        if not self._is(value, self.type):
            raise ConfigError(f"{where}: expected {_TYPE_NAMES[self.type]}, got {value!r}{_string_hint(value, self.type)}")
        if self.type is list:
            if self.item and not all(self._is(v, self.item) for v in value):
                raise ConfigError(f"{where}: expected a list of {_TYPE_NAMES[self.item]}s, got {value!r}")
            if self.length is not None and len(value) != self.length:
                raise ConfigError(f"{where}: expected {self.length} values, got {len(value)} ({value!r})")
            for i, v in enumerate(value):
                self._in_range(v, f"{where}[{i}]")
            return [float(v) for v in value] if self.item is float else list(value)
        if self.choices and value not in self.choices:
            raise ConfigError(f"{where}: {value!r}; valid: {', '.join(map(str, self.choices))}")
        self._in_range(value, where)
        return float(value) if self.type is float else value

    def _in_range(self, value, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        low_bad = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        high_bad = self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi)
        if low_bad or high_bad:
            lo = "" if self.lo is None else f"{'>' if self.lo_open else '>='} {self.lo}"
            hi = "" if self.hi is None else f"{'<' if self.hi_open else '<='} {self.hi}"
            raise ConfigError(f"{where}: {value!r} is out of range (must be {' and '.join(x for x in (lo, hi) if x)})")


def valid_args(cls) -> dict[str, object]:
    """Constructor arguments settable from a config, with their defaults."""
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self" and k not in _SUPPLIED}


def check_entry(kind: str, registry: dict, cfg: dict) -> tuple[type, dict]:
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
    defaults = valid_args(cls)
    for k, v in args.items():
        d = defaults[k]
        if type(d) in (bool, int, float, str):  # the default's type is the argument's type
            Spec(d, type(d)).check(v, f"{kind}.{k}")
        if isinstance(d, tuple) and isinstance(v, list):  # YAML lists -> tuples where the default is one
            args[k] = tuple(v)
    return cls, args

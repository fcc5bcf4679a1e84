"""Command-line helpers of the entry points: the --help format, argument types, the --device choice."""

from __future__ import annotations

import argparse
import copy

from core.errors import GfaError, UsageError


def pick_device(kind: str, gpus: str = "", job: int = 0):
    """``--device auto|cpu|cuda`` -> torch.device: auto is CUDA when PyTorch sees a GPU. With ``gpus``
    ("0,1"), job J (1-based; 0 = no jobs) runs on the ((J - 1) mod n)-th id."""
    import torch  # here: the feature and egs tools import this module and need no torch

    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to PyTorch")
    ids = [int(i) for i in gpus.split(",") if i.strip()] or [torch.cuda.current_device()]
    return torch.device(f"cuda:{ids[(max(job, 1) - 1) % len(ids)]}")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help of the entry points: the docstring as written (RawDescriptionHelpFormatter) and every option's
    default (ArgumentDefaultsHelpFormatter), 0 included; a default that says nothing (None, an off flag,
    an empty string or list) is not printed."""

    def _format_action(self, action):
        if action.help is None and self._shows_default(action):  # argparse formats no help text at all
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action):
        if not self._shows_default(action):
            return action.help or ""
        return super()._get_help_string(action).strip()

    @staticmethod
    def _shows_default(action) -> bool:
        d = action.default
        return bool(action.option_strings) and not (
            d is None or d is False or d is argparse.SUPPRESS or (isinstance(d, (str, list)) and not d)
        )


def arg_type(parse):
    """An argparse ``type=`` from a library parser: its GfaError becomes argparse's usage error."""

    def convert(text: str):
        try:
            return parse(text)
        except GfaError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count, a size), with a clear message otherwise."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v

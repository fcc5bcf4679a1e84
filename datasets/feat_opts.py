"""Kaldi feature options (``compute-{spectrogram,fbank,mfcc}-feats``, ``compute-vad``) and a strict
parser for Kaldi option files (``--frame-length=20`` per line, ``#`` comments).

Defaults are Kaldi's (``src/feat/feature-window.h``, ``feature-{spectrogram,fbank,mfcc}.h``,
``mel-computations.h``, ``ivector/voice-activity-detection.h``). An unknown or misspelt option, a
bad value, or an option of another feature type is an error naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from core.errors import GfaError, UsageError

WINDOW_TYPES = ("povey", "hamming", "hanning", "rectangular", "blackman", "sine")


@dataclass
class FrameOpts:
    sample_frequency: float = 16000.0
    frame_shift: float = 10.0  # ms
    frame_length: float = 25.0  # ms
    dither: float = 1.0
    preemphasis_coefficient: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    round_to_power_of_two: bool = True
    blackman_coeff: float = 0.42
    snip_edges: bool = True

    @property
    def window_size(self) -> int:
        # Kaldi: static_cast<int32>(samp_freq * 0.001 * frame_length_ms), in double
        return int(self.sample_frequency * 0.001 * self.frame_length)

    @property
    def window_shift(self) -> int:
        return int(self.sample_frequency * 0.001 * self.frame_shift)

    @property
    def padded_window_size(self) -> int:
        n = self.window_size
        return 1 << (n - 1).bit_length() if self.round_to_power_of_two else n


@dataclass
class MelOpts:
    num_mel_bins: int = 23
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0: offset from Nyquist
    vtln_low: float = 100.0
    vtln_high: float = -500.0


@dataclass
class SpectOpts:
    kind = "spect"
    frame: FrameOpts = field(default_factory=FrameOpts)
    energy_floor: float = 0.0
    raw_energy: bool = True

    @property
    def dim(self) -> int:
        return self.frame.padded_window_size // 2 + 1


@dataclass
class FbankOpts:
    kind = "fbank"
    frame: FrameOpts = field(default_factory=FrameOpts)
    mel: MelOpts = field(default_factory=MelOpts)
    use_energy: bool = False
    energy_floor: float = 0.0
    raw_energy: bool = True
    htk_compat: bool = False
    use_log_fbank: bool = True
    use_power: bool = True

    @property
    def dim(self) -> int:
        return self.mel.num_mel_bins + int(self.use_energy)


@dataclass
class MfccOpts:
    kind = "mfcc"
    frame: FrameOpts = field(default_factory=FrameOpts)
    mel: MelOpts = field(default_factory=MelOpts)
    num_ceps: int = 13
    use_energy: bool = True
    energy_floor: float = 0.0
    raw_energy: bool = True
    cepstral_lifter: float = 22.0
    htk_compat: bool = False

    @property
    def dim(self) -> int:
        return self.num_ceps


@dataclass
class VadOpts:
    kind = "vad"
    vad_energy_threshold: float = 5.0
    vad_energy_mean_scale: float = 0.5
    vad_frames_context: int = 0
    vad_proportion_threshold: float = 0.6


OPTION_CLASSES = {"spect": SpectOpts, "fbank": FbankOpts, "mfcc": MfccOpts, "vad": VadOpts}
# options of the compute-*-feats binaries that are not feature options; accepted, and checked
TOOL_OPTIONS = {"channel": -1, "min_duration": 0.0}
_ALIASES = {"sample_frequency": "sample_frequency", "preemph_coeff": "preemphasis_coefficient"}


class OptionError(GfaError, ValueError):
    """Bad option file or value; names the file and line."""


def _targets(opts) -> dict[str, tuple[object, str, type]]:
    """Kaldi option name (underscored) -> (object holding it, attribute, type)."""
    out = {}
    for f in fields(opts):
        value = getattr(opts, f.name)
        if isinstance(value, (FrameOpts, MelOpts)):
            for g in fields(value):
                out[g.name] = (value, g.name, type(getattr(value, g.name)))
        else:
            out[f.name] = (opts, f.name, type(value))
    return out


def _convert(raw: str, kind: type, name: str):
    if kind is bool:
        if raw not in ("true", "false"):
            raise UsageError(f"--{name.replace('_', '-')} expects true or false, got {raw!r}")
        return raw == "true"
    try:
        return kind(raw)
    except ValueError:
        raise UsageError(f"--{name.replace('_', '-')} expects a {kind.__name__}, got {raw!r}") from None


def set_option(opts, tool: dict, name: str, raw: str | None) -> None:
    """Set one Kaldi option (``name`` with dashes or underscores) on ``opts``; errors are ValueError."""
    key = _ALIASES.get(name.replace("-", "_"), name.replace("-", "_"))
    targets = _targets(opts)
    if key in TOOL_OPTIONS:
        tool[key] = _convert(raw if raw is not None else "", type(TOOL_OPTIONS[key]), key)
        return
    if key not in targets:
        valid = ", ".join("--" + k.replace("_", "-") for k in sorted([*targets, *TOOL_OPTIONS]))
        raise UsageError(f"unknown option --{name} for {opts.kind}; valid: {valid}")
    obj, attr, kind = targets[key]
    value = _convert("true" if raw is None and kind is bool else raw or "", kind, key)
    if key == "window_type" and value not in WINDOW_TYPES:
        raise UsageError(f"--window-type must be one of {', '.join(WINDOW_TYPES)}, got {value!r}")
    setattr(obj, attr, value)


def check(opts) -> None:
    """Value checks Kaldi makes before computing."""
    fr = getattr(opts, "frame", None)
    if fr is not None:
        if fr.window_size < 2 or fr.window_shift < 1:
            raise UsageError(
                f"frame length {fr.frame_length} ms / shift {fr.frame_shift} ms give {fr.window_size} / {fr.window_shift} samples"
            )
    mel = getattr(opts, "mel", None)
    if mel is not None and fr is not None:
        nyq = fr.sample_frequency / 2
        high = mel.high_freq if mel.high_freq > 0 else nyq + mel.high_freq
        if not (0 <= mel.low_freq < high <= nyq):
            raise UsageError(f"bad mel range: low-freq {mel.low_freq}, high-freq {mel.high_freq} (-> {high}) with Nyquist {nyq}")
        if mel.num_mel_bins < 3:
            raise UsageError("--num-mel-bins must be at least 3")
    if isinstance(opts, MfccOpts) and not 1 <= opts.num_ceps <= opts.mel.num_mel_bins:
        raise UsageError(f"--num-ceps {opts.num_ceps} must be in 1..num-mel-bins ({opts.mel.num_mel_bins})")


def read_options(kind: str, path: str | Path | None = None, overrides: list[str] = ()) -> tuple[object, dict]:
    """Options of ``kind`` (spect|fbank|mfcc|vad) from Kaldi defaults, a conf file, then
    ``overrides`` (``--name=value`` strings). Returns (options, tool options)."""
    if kind not in OPTION_CLASSES:
        raise OptionError(f"unknown feature type {kind!r}; valid: {', '.join(OPTION_CLASSES)}")
    opts, tool = OPTION_CLASSES[kind](), dict(TOOL_OPTIONS)
    lines = []
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise OptionError(f"{path}: cannot read option file ({e.strerror})") from None
        lines = [(f"{path}:{i}", ln) for i, ln in enumerate(text.splitlines(), 1)]
    lines += [("command line", o) for o in overrides]
    for where, line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not line.startswith("--"):
            raise OptionError(f"{where}: expected --name=value, got {line!r}")
        name, _, raw = line[2:].partition("=")
        try:
            set_option(opts, tool, name.strip(), raw.strip() if _ else None)
        except ValueError as e:
            raise OptionError(f"{where}: {e}") from None
    try:
        check(opts)
    except ValueError as e:
        raise OptionError(f"{path or 'options'}: {e}") from None
    return opts, tool

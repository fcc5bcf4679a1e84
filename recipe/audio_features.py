"""Embeddings of audio files with a trained experiment (shared by steps.verify and steps.embed).

Features are computed in-process with the experiment's own feature conf (``<exp>/feats.conf``) and
the same checks as ``steps/make_<type>.sh``. The dither is seeded by ``--dither-seed`` and the audio
itself (a hash of its samples), not by the file's name, so the same recording gets the same
embedding under any name. Then the features are embedded like ``steps.extract_embeddings`` (utterances over ``max_frames`` in
equal chunks, averaged). With ``data.vad: true`` the frames are selected by energy VAD computed with
the experiment's ``vad.conf``, as the training egs were.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from datasets.audio import read_wav
from datasets.audio import resample as resample_audio
from datasets.feat_opts import read_options
from datasets.kaldi_feats import compute_batch, content_rng
from datasets.kaldi_files import DataDirError
from datasets.loader import UtteranceLoader
from datasets.vad import compute_vad, voiced_masks
from models.inference import extract_embeddings
from datasets.wav_checks import check_waves


def warn(tool: str, msg: str) -> None:
    print(f"{tool}: warning: {msg}", file=sys.stderr)


def safe_key(name: str) -> str:
    """A Kaldi key from a file name: blanks and unprintable characters become '_'."""
    return "".join(c if c.isprintable() and not c.isspace() else "_" for c in name)


def keys_for(specs: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the key of each input, key -> wav spec) for bare paths or ``cmd |`` pipes: a file's stem,
    ``pipe<N>`` for a pipe; an input given twice is one key (embedded once), and two different inputs
    with one stem get ``-<N>`` appended."""
    out: dict[str, str] = {}
    by_spec: dict[str, str] = {}
    for i, spec in enumerate(specs, 1):
        if spec in by_spec:
            continue
        key = safe_key(f"pipe{i}" if spec.rstrip().endswith("|") else Path(spec).stem or f"input{i}")
        base, n = key, 2
        while key in out:
            key, n = f"{base}-{n}", n + 1
        out[key], by_spec[spec] = spec, key
    return [by_spec[s] for s in specs], out


def read_wav_list(path: Path) -> dict[str, str]:
    """A list of inputs: a line is either a path (its whole text names an existing file) or
    ``<key> <wav spec>`` as in wav.scp (a file or a ``cmd |`` pipe). Keys must be unique."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if Path(line).is_file() or len(line.split(None, 1)) == 1:
            key, spec = safe_key(Path(line).stem), line
        else:
            key, spec = line.split(None, 1)
        if key in out:
            raise DataDirError(
                f"{path}:{n}: key {key!r} repeated (line: {line!r}); give each input a unique key as '<key> <path>'"
            )
        out[key] = spec
    if not out:
        raise DataDirError(f"{path}: no inputs")
    return out


def exp_feature_options(exp: Path, inputs: dict, tool: str):
    conf = exp / inputs["feat_conf"] if inputs.get("feat_conf") else None
    if conf is None:
        warn(
            tool,
            f"{exp} records no feature conf; using Kaldi's {inputs['feat_type']} defaults, which may not "
            "be what the model was trained on",
        )
    return read_options(inputs["feat_type"], conf)


def wav_features(
    exp: Path, inputs: dict, wavs: dict[str, str], tool: str, dither_seed: int = 0, resample: bool = False
) -> dict[str, np.ndarray]:
    """key -> (time, freq) features of each input; any unreadable or unfit input is an error naming it."""
    audio = []
    for key, spec in wavs.items():
        try:
            x, sr = read_wav(spec, what=f"{key} ({spec})")
            audio.append((key, x, sr))
        except ValueError as e:  # AudioError
            audio.append((key, e, 0))
    return audio_features(exp, inputs, audio, tool, dither_seed, wavs, resample)


def resampled(item: tuple, rate: int, tool: str) -> tuple:
    key, x, sr = item
    if isinstance(x, ValueError) or sr == rate:
        return item
    warn(tool, f"{key}: resampled from {sr} Hz to the feature conf's {rate} Hz")
    return key, resample_audio(x, sr, rate), rate


def audio_features(
    exp: Path,
    inputs: dict,
    audio: list,
    tool: str,
    dither_seed: int = 0,
    names: dict[str, str] | None = None,
    resample: bool = False,
) -> dict[str, np.ndarray]:
    """key -> (time, freq) features of in-memory audio: (key, samples (channels, n) in int16 scale or an
    AudioError, sample rate) each, checked as steps/make_<type>.sh checks a wav. With ``resample``,
    audio at another rate than the feature conf's is resampled to it, and the tool says so."""
    opts, opt_tool = exp_feature_options(exp, inputs, tool)
    if resample:
        audio = [resampled(item, int(opts.frame.sample_frequency), tool) for item in audio]
    failed: list[str] = []
    feats = {}
    for key, mono in check_waves(audio, opts, opt_tool):
        if mono is None:
            failed.append(f"{key} ({(names or {}).get(key, 'array')})")
            continue
        feats[key] = compute_batch([mono], opts, [content_rng(dither_seed, mono)])[0]
    if failed:
        raise DataDirError(
            f"{len(failed)} of {len(audio)} input(s) could not be used (see the warnings above): {', '.join(failed[:5])}"
        )
    return feats


def exp_vad_masks(exp: Path, feats: dict[str, np.ndarray], tool: str) -> dict[str, np.ndarray]:
    """Energy-VAD frame masks with the experiment's VAD options (``<exp>/vad.conf``)."""
    conf = exp / "vad.conf"
    if not conf.exists():
        warn(tool, f"{conf}: missing; energy VAD with Kaldi's default options")
    opts, _ = read_options("vad", conf if conf.exists() else None)
    decisions = {k: compute_vad(f, opts) for k, f in feats.items()}
    masks, notes = voiced_masks(decisions, {k: len(f) for k, f in feats.items()})
    for note in notes:
        warn(tool, note)
    return masks


def embed_arrays(
    model, cfg: dict, exp: Path, feats: dict[str, np.ndarray], device, tool: str, max_frames: int = 3000
) -> dict[str, np.ndarray]:
    """key -> embedding of in-memory features (VAD applied when the experiment's data.vad says so)."""
    masks = exp_vad_masks(exp, feats, tool) if cfg["data"].get("vad") else {}
    lengths = {k: int(masks[k].sum()) if k in masks else len(f) for k, f in feats.items()}
    loader = UtteranceLoader(feats, lengths, max_frames=max_frames, min_frames=getattr(model, "min_frames", 1), voiced=masks)
    return extract_embeddings(model, loader, device)

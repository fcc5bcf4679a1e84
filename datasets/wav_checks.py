"""Kaldi's per-utterance checks before feature extraction (compute-*-feats): channel choice, sample rate,
at least one window, --min-duration; unreadable audio and failed augmentation recipes are skipped with a
warning that names the utterance. Used by the feature jobs (steps/compute_feats.py) and by the audio
paths of the API and steps.verify/embed (recipe/audio_features.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from datasets.audio import AudioError, iter_data_dir_audio
from datasets.augment import AugmentError
from datasets.augment_dirs import SourceCache, apply_recipe
from datasets.kaldi_feats import num_frames
from datasets.kaldi_files import read_dict, read_table


def warn(msg: str) -> None:
    print(f"WARNING (compute_feats): {msg}", file=sys.stderr)


def checked_waves(d: Path, opts, tool: dict, skipped: dict | None = None):
    """Yield (utt, mono samples or None) of a data dir applying Kaldi's per-utterance checks; the reason
    for each None goes to ``skipped`` (utt -> reason) as well as to the warning."""
    wav_scp = read_dict(d / "wav.scp", max_fields=None)
    segments = None
    if (d / "segments").exists():
        segments = {e.key: (e.fields[0], float(e.fields[1]), float(e.fields[2])) for e in read_table(d / "segments", 3, 3)}
    recipes = {}
    if (d / "utt2aug").exists():  # augmented copies: apply each recipe to the clean audio in-process
        recipes = {k: json.loads(v) for k, v in read_dict(d / "utt2aug", max_fields=None).items()}
    yield from check_waves(iter_data_dir_audio(wav_scp, segments), opts, tool, recipes, skipped)


def check_waves(audio, opts, tool: dict, recipes: dict | None = None, skipped: dict | None = None):
    """(utt, samples (channels, n) | AudioError, rate) -> (utt, mono samples or None), warning why (and
    recording why in ``skipped``, utt -> reason, when given)."""
    recipes = recipes or {}
    skipped = {} if skipped is None else skipped

    def skip(utt: str, why: str) -> None:
        skipped[utt] = why
        warn(f"{utt}: skipped: {why}")

    cache = SourceCache()
    sr_want, win = opts.frame.sample_frequency, opts.frame.window_size
    for utt, x, sr in audio:
        if isinstance(x, AudioError):
            skip(utt, str(x))
            yield utt, None
            continue
        channel = tool["channel"]
        if x.shape[0] > 1 and channel == -1:
            warn(f"{utt}: {x.shape[0]} channels and --channel not set; using channel 0 (as Kaldi)")
        if channel >= x.shape[0]:
            skip(utt, f"--channel {channel} but the audio has {x.shape[0]} channel(s)")
            yield utt, None
        elif sr != sr_want:
            skip(utt, f"sample rate {sr} Hz differs from --sample-frequency={sr_want:g}")
            yield utt, None
        elif num_frames(x.shape[1], opts.frame) == 0 or x.shape[1] / sr < tool["min_duration"]:
            why = (
                f"shorter than one {win}-sample window (snip-edges=true)"
                if num_frames(x.shape[1], opts.frame) == 0
                else f"shorter than --min-duration={tool['min_duration']}"
            )
            skip(utt, f"{x.shape[1]} samples, {why}")
            yield utt, None
        else:
            mono = x[max(channel, 0)]
            if utt in recipes:
                try:
                    mono = apply_recipe(mono, sr, recipes[utt], cache)
                except (AugmentError, AudioError) as e:
                    skip(utt, f"augmentation failed: {e}")
                    yield utt, None
                    continue
            if not np.any(mono):
                warn(f"{utt}: all-zero audio; energies are floored")
            yield utt, mono

"""The Python API of a trained experiment: embed, verify and find frequency weights in a few lines.

    from gfa import Experiment
    exp = Experiment.load("exp/demo_rescnn")                      # averaged or last checkpoint, own feature conf
    e = exp.embed("a.wav")                                         # (dim,) numpy; a list gives (n, dim)
    score, same = exp.verify("a.wav", "b.wav")                     # cosine and the recorded EER-threshold decision
    w = exp.frequency_weights(["a.wav", "b.wav"], method="integrated_gradients")   # (freq,)

An input is a wav path or a ``cmd |`` pipe, a waveform (numpy or torch, 1-D or (channels, n)) with its
``sample_rate``, or a feature matrix (time, feat_dim) already in the experiment's features. Waveforms
are taken in Kaldi's int16 scale; a float waveform whose peak is at most 1.0 (as soundfile gives it)
is scaled by 32768 first. Files are read by the standard library (16-bit PCM WAV) or soundfile
(FLAC, 24-bit or float WAV, ...). A sample rate other than the experiment's feature conf is an error
unless ``Experiment.load(..., resample=True)``: nothing is resampled behind the caller's back. Features, dither and VAD are the recipe's own
(recipe/audio_features.py), so a pair gets the score ``steps.verify`` gives it. Errors are the project's
own exceptions (DataDirError, ConfigError, CheckpointError, UsageError: all core.errors.GfaError), never an exit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from datasets.kaldi_files import DataDirError
from gradients.any_model import model_frequency_weights
from recipe.experiment import load_exp_model, scored_lists
from recipe.audio_features import audio_features, embed_arrays, wav_features


def pick_threshold(exp: Path, name: str | None) -> tuple[float, str] | None:
    """(EER threshold, where it came from) of the named or default scored list; None when none is scored."""
    lists = scored_lists(exp)
    if name:
        if name not in lists:
            raise DataDirError(
                f"--threshold-from {name}: {exp}/scores/{name}.json is not a cosine-scored list; "
                f"scored: {', '.join(lists) or 'none (run c_train.sh stage 3)'}"
            )
    elif lists:  # the recipe's main list: a file named 'trials' scored under steps.score's default name
        named = [n for n, r in lists.items() if Path(r["trials"]).name == "trials"]
        name = next((n for n in named if n == f"{lists[n]['embeddings']}_trials"), (named or list(lists))[0])
        if len(lists) > 1:
            print(
                f"gfa: {len(lists)} scored lists ({', '.join(lists)}); deciding with {name} (--threshold-from picks another)",
                file=sys.stderr,
            )
    else:
        return None
    rec = lists[name]
    return rec["eer"]["threshold"], (
        f"the EER threshold of {rec['trials']} ({name}: {rec['n']} trials, EER {100 * rec['eer']['value']:.2f}%)"
    )


def _array(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _waveform(x, sample_rate) -> tuple[np.ndarray, int]:
    """(samples (channels, n) float32 in int16 scale, rate) of a 1-D or (channels, n) waveform."""
    if sample_rate is None:
        raise DataDirError("a waveform needs its sample_rate (e.g. exp.embed(x, sample_rate=16000))")
    arr = _array(x)
    a = arr.astype(np.float32)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or not a.size:
        raise DataDirError(f"a waveform must be 1-D or (channels, samples), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating) and np.abs(a).max() <= 1.0:
        a = a * 32768.0  # full scale [-1, 1] (soundfile, torchaudio) -> Kaldi's int16 scale
    return a, int(sample_rate)


class Experiment:
    """A trained experiment dir (``exp/<name>``) ready to embed, verify and explain."""

    def __init__(
        self,
        exp_dir: Path,
        model: torch.nn.Module,
        cfg: dict,
        checkpoint: Path,
        device,
        dither_seed: int = 0,
        resample: bool = False,
    ):
        self.exp_dir, self.model, self.cfg, self.checkpoint = exp_dir, model, cfg, checkpoint
        self.device, self.dither_seed, self.resample = device, dither_seed, resample
        self.feat_dim = cfg["data"]["feat_dim"]

    @classmethod
    def load(
        cls, exp_dir, checkpoint: str = "auto", device: str = "cpu", dither_seed: int = 0, resample: bool = False
    ) -> "Experiment":
        """The experiment's model (``auto``: avg_<train.average_last> if present, else last) on ``device``;
        ``resample``: audio at another rate than the feature conf's is resampled (said on stderr), not refused."""
        exp = Path(exp_dir).resolve()
        dev = torch.device(device)
        model, cfg, path, _ = load_exp_model(exp, checkpoint, dev)
        return cls(exp, model, cfg, path, dev, dither_seed, resample)

    def features(self, inputs, sample_rate: int | None = None) -> list[np.ndarray]:
        """(time, freq) features of each input (see the module docstring)."""
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        out: list[np.ndarray | None] = [None] * len(items)
        wavs, audio = {}, []
        for i, x in enumerate(items):
            if isinstance(x, (str, Path)):
                wavs[f"in{i}"] = str(x)
            elif sample_rate is None and _array(x).ndim == 2 and _array(x).shape[1] == self.feat_dim:
                out[i] = _array(x).astype(np.float32)  # already features: (time, feat_dim)
            else:
                audio.append((f"in{i}", *_waveform(x, sample_rate)))
        inputs_rec = self.cfg["inputs"]
        made = wav_features(self.exp_dir, inputs_rec, wavs, "gfa", self.dither_seed, self.resample) if wavs else {}
        if audio:
            made.update(audio_features(self.exp_dir, inputs_rec, audio, "gfa", self.dither_seed, resample=self.resample))
        return [out[i] if out[i] is not None else made[f"in{i}"] for i in range(len(items))]

    def embed(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        """(dim,) for one input, (n, dim) for a list."""
        feats = self.features(inputs, sample_rate)
        emb = embed_arrays(self.model, self.cfg, self.exp_dir, {f"in{i}": f for i, f in enumerate(feats)}, self.device, "gfa")
        out = np.stack([emb[f"in{i}"] for i in range(len(feats))])
        return out if isinstance(inputs, (list, tuple)) else out[0]

    def verify(
        self, enrol, test, sample_rate: int | None = None, threshold: float | None = None, threshold_from: str | None = None
    ) -> tuple[float, bool | None]:
        """(cosine score, same speaker?) of two inputs; the decision uses ``threshold``, else the EER
        threshold of a scored list of the experiment (None when it has none)."""
        a, b = self.embed([enrol, test], sample_rate)
        score = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        if threshold is None:
            picked = pick_threshold(self.exp_dir, threshold_from)
            threshold = picked[0] if picked else None
        return score, (None if threshold is None else score > threshold)

    def frequency_weights(self, inputs, method: str = "integrated_gradients", sample_rate: int | None = None, **kw) -> np.ndarray:
        """(freq,) weights of this model over ``inputs``: b_extract.sh's reduction, with the cosine of each
        utterance's embedding to its own as the target (no speaker labels needed); ``kw`` go to
        gradients.any_model.model_frequency_weights (options, reduction, chunk_frames, ...)."""
        feats = self.features(inputs, sample_rate)
        return model_frequency_weights(self.model, feats, method, target="verification", device=self.device, **kw)

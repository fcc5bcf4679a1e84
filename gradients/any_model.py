"""Where does a model find the speaker? One weight per frequency bin for any PyTorch model.

    from gradients.any_model import model_frequency_weights
    v = model_frequency_weights(model, feats)                        # own-embedding cosine target
    v = model_frequency_weights(model, feats, labels=y, head=head)   # a cosine head (this project's)
    v = model_frequency_weights(model, feats, labels=y, target="logit")  # a model that outputs logits

``model`` maps features (batch, time, freq) to embeddings, or to class logits with ``target="logit"``;
``feats`` is a list of (time, freq) matrices (numpy or torch) in the model's own input features
(spectrogram, fbank, mel: whatever it was trained on). The maps come from the saliency registry
(gradients/methods.py) and are reduced exactly as ``b_extract.sh`` does (gradients/reduce.py: the mean
over time of |map| per utterance, then the mean over utterances). Utterances longer than
``chunk_frames`` are cut into equal chunks whose maps are averaged, as ``b_extract.sh`` cuts them.

Targets (what the map explains):
- ``cosine``: the cosine of the true class on a cosine head (``head.cosine(emb)``, needs ``labels``);
- ``softmax``: the softmax probability of the true class over the head's unscaled cosines (``labels``);
- ``logit``: the model's output for the true class (``labels``);
- ``verification``: the cosine between an utterance's embedding and a reference embedding:
  ``references`` (one per utterance), or by default the utterance's own full-length embedding, its
  enrolment, which needs no classifier at all.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gradients.methods import METHODS, long_utterance_map
from gradients.reduce import frequency_weights, utterance_profile
from gradients.targets import make_target
from core.errors import UsageError

TARGETS = ("cosine", "softmax", "logit", "verification")


def _logit_target(model: nn.Module, labels: torch.Tensor):
    def fn(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        out = model(x)  # (batch, classes)
        return out.gather(1, labels.to(out.device)[rows.to(out.device)][:, None]).squeeze(1)

    return fn


def _pick_target(target: str | None, head, labels, references) -> str:
    if target is None:
        target = "cosine" if head is not None and labels is not None else "verification"
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; valid: {', '.join(TARGETS)}")
    if target in ("cosine", "softmax", "logit") and labels is None:
        raise UsageError(f"target {target!r} needs labels (one class index per utterance)")
    if target in ("cosine", "softmax") and (head is None or not hasattr(head, "cosine")):
        raise UsageError(
            f"target {target!r} needs a head with a cosine(emb) method; use target='logit' for a model "
            "that outputs class logits, or 'verification' for an embedding model"
        )
    return target


def runtime_inputs(method: str, pool_size: int, load, seed: int, internal_batch_size: int) -> dict:
    """The runtime inputs a method takes: reference inputs (at most 100, drawn seeded from a pool of
    ``pool_size`` utterances; ``load(i)`` gives the i-th as a (time, freq) tensor), a seeded generator,
    the internal batch size. b_extract.sh (steps/cam_extract.py) draws them through this function too."""
    m, kw = METHODS[method], {}
    if "references" in m.runtime:
        pick = np.random.default_rng(seed + 1).choice(pool_size, min(100, pool_size), replace=False)
        kw["references"] = [load(int(i)) for i in pick]
    if "generator" in m.runtime:
        kw["generator"] = torch.Generator().manual_seed(seed)
    if "internal_batch_size" in m.runtime:
        kw["internal_batch_size"] = internal_batch_size
    return kw


def target_for(
    target: str, model: nn.Module, head: nn.Module | None = None, label: int | None = None, reference: torch.Tensor | None = None
):
    """``fn_for(n)``: one utterance's target repeated over n rows, as long_utterance_map takes it;
    ``label`` (class index) for cosine/softmax/logit, ``reference`` (1, emb) for verification."""
    if target == "logit":
        return lambda n: _logit_target(model, torch.tensor([label] * n))
    if target == "verification":
        return lambda n: make_target("verification", model, references=reference.repeat(n, 1))
    return lambda n: make_target(target, model, head, torch.tensor([label] * n))


def _own_embeddings(model: nn.Module, xs: list[torch.Tensor], device) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[None].to(device)).float().cpu() for x in xs])  # (utterances, emb)


def model_frequency_weights(
    model: nn.Module,
    feats,
    method: str = "integrated_gradients",
    *,
    labels=None,
    head: nn.Module | None = None,
    references=None,
    target: str | None = None,
    options: dict | None = None,
    reduction: str = "abs",
    bin0: str = "keep",
    chunk_frames: int = 1200,
    seed: int = 0,
    internal_batch_size: int = 16,
    device="cpu",
) -> np.ndarray:
    """(freq,) float64 weight vector of ``model`` over the utterances ``feats`` (module docstring)."""
    if method not in METHODS:
        raise UsageError(f"unknown saliency method {method!r}; valid: {', '.join(METHODS)}")
    xs = [torch.as_tensor(np.asarray(f), dtype=torch.float32) for f in feats]  # each (time, freq)
    if not xs or any(x.ndim != 2 for x in xs) or len({x.shape[1] for x in xs}) != 1:
        raise UsageError("feats: want a non-empty list of (time, freq) matrices with one number of bins")
    target = _pick_target(target, head, labels, references)
    model = model.to(device).eval()
    y = torch.as_tensor(labels, dtype=torch.long) if labels is not None else None
    if target == "verification":
        refs = torch.as_tensor(references, dtype=torch.float32) if references is not None else _own_embeddings(model, xs, device)
        if len(refs) != len(xs):
            raise UsageError(f"references: {len(refs)} embeddings for {len(xs)} utterances")
    if y is not None and len(y) != len(xs):
        raise UsageError(f"labels: {len(y)} for {len(xs)} utterances")
    if head is not None:
        head = head.to(device).eval()
    opts = {**(options or {}), **runtime_inputs(method, len(xs), xs.__getitem__, seed, internal_batch_size)}
    profiles = []
    for i, x in enumerate(xs):
        fn_for = target_for(
            target,
            model,
            head,
            label=None if y is None else int(y[i]),
            reference=refs[i : i + 1] if target == "verification" else None,
        )
        m = long_utterance_map(method, model, x.to(device), fn_for, chunk_frames, opts)  # (time, freq)
        profiles.append(utterance_profile(m.numpy(), reduction))
    return frequency_weights(profiles, bin0)

"""A corpus the recipe did not generate, for bench/seeds.py: speech from espeak-ng (a formant
synthesiser, `apt install espeak-ng`), one "speaker" per (voice variant, language, pitch, speed, word gap)
drawn at random, spoken sentences of random words, resampled to 16 kHz, through a random channel tilt
and white noise at a per-utterance SNR. Shapes unlike the synthetic corpus: hashed speaker ids, ids
``<spk>_u<n>``, another speaker count, 2-6 s utterances, and SNRs from 5 to 30 dB.

    python -m bench.espeak_corpus data/espeak [--train-speakers 60] [--test-speakers 24]
        [--train-utts 12] [--test-utts 6] [--seed 5]

Writes <out>/{train,test}/{wav.scp,utt2spk,spk2utt} and <out>/test/trials (all target pairs, as many
nontargets, seeded) and wavs under <out>/wav. Then: ./run.sh --data <out> --stage 1 --stop-stage 3.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import signal

from datasets.audio import read_wav, write_wav
from datasets.kaldi_files import format_table
from core.atomic import atomic_write_text

LANGS = ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "cs"]
WORDS = (
    "time person year way day thing man world life hand part child eye woman place work week case point "
    "number group problem fact small large early young important public bad same able house river garden "
    "music paper water story money light night road table window morning evening market winter summer"
).split()


def variants() -> list[str]:
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    return sorted({w[3:] for line in out.splitlines()[1:] for w in line.split() if w.startswith("!v/")})


def speakers(n: int, rng: np.random.Generator) -> list[dict]:
    combos = list(itertools.product(variants(), LANGS))
    picks = rng.choice(len(combos), size=n, replace=False)
    out = []
    for i in picks:
        var, lang = combos[i]
        spk = {
            "voice": f"{lang}+{var}",
            "pitch": int(rng.integers(20, 80)),
            "gap": int(rng.integers(0, 6)),
            "speed": int(rng.integers(140, 190)),
            "tilt": float(rng.uniform(-0.6, 0.6)),
        }
        spk["id"] = "S" + hashlib.sha1(repr(sorted(spk.items())).encode()).hexdigest()[:6].upper()
        out.append(spk)
    return out


def speak(spk: dict, text: str, tmp: Path) -> np.ndarray:
    wav = tmp / "x.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            spk["voice"],
            "-p",
            str(spk["pitch"]),
            "-g",
            str(spk["gap"]),
            "-s",
            str(spk["speed"]),
            "-w",
            str(wav),
            text,
        ],
        check=True,
        capture_output=True,
    )
    if not wav.exists():
        raise RuntimeError(f"espeak-ng wrote nothing for voice {spk['voice']}")
    x, sr = read_wav(str(wav))  # (channels, samples)
    return signal.resample_poly(x[0].astype(np.float64), 16000, sr)


def degrade(x: np.ndarray, tilt: float, rng: np.random.Generator) -> np.ndarray:
    x = signal.lfilter([1.0, tilt], [1.0], x)  # a speaker's channel: first-order spectral tilt
    snr = rng.uniform(5, 30)
    noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(x**2) / 10 ** (snr / 10))
    y = x + noise
    return np.clip(y * (8000 / (np.abs(y).max() + 1e-9)), -32768, 32767)


def make_part(out: Path, part: str, spks: list[dict], n_utts: int, rng) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spk in spks:
            for n in range(n_utts):
                text = " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))
                utt = f"{spk['id']}_u{n + 1:02d}"
                path = out / "wav" / spk["id"] / f"{utt}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                write_wav(path, degrade(speak(spk, text, Path(tmp)), spk["tilt"], rng).astype(np.int16), 16000)
                rows.append((utt, spk["id"], str(path.resolve())))
    d = out / part
    d.mkdir(parents=True, exist_ok=True)
    rows.sort()
    atomic_write_text(d / "wav.scp", format_table((u, p) for u, _, p in rows))
    atomic_write_text(d / "utt2spk", format_table((u, s) for u, s, _ in rows))
    s2u: dict[str, list[str]] = {}
    for u, s, _ in rows:
        s2u.setdefault(s, []).append(u)
    atomic_write_text(d / "spk2utt", format_table((s, " ".join(us)) for s, us in sorted(s2u.items())))
    return [(u, s) for u, s, _ in rows]


def trials(utts: list[tuple[str, str]], rng) -> list[tuple[str, str, str]]:
    pairs = list(itertools.combinations(utts, 2))
    tar = [(a, b, "target") for (a, s), (b, t) in pairs if s == t]
    non = [(a, b, "nontarget") for (a, s), (b, t) in pairs if s != t]
    keep = rng.choice(len(non), size=min(len(non), 4 * len(tar)), replace=False)
    return sorted(tar + [non[i] for i in sorted(keep)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--train-speakers", type=int, default=60)
    p.add_argument("--test-speakers", type=int, default=24)
    p.add_argument("--train-utts", type=int, default=12)
    p.add_argument("--test-utts", type=int, default=6)
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak_corpus: error: espeak-ng is not installed (apt install espeak-ng)", file=sys.stderr)
        return 1
    out, rng = Path(a.out), np.random.default_rng(a.seed)
    if (out / "train").exists() or (out / "test").exists():
        print(f"espeak_corpus: error: {out} already holds a corpus; remove it or choose another", file=sys.stderr)
        return 1
    spks = speakers(a.train_speakers + a.test_speakers, rng)
    make_part(out, "train", spks[: a.train_speakers], a.train_utts, rng)
    test = make_part(out, "test", spks[a.train_speakers :], a.test_utts, rng)
    atomic_write_text(out / "test" / "trials", format_table(trials(test, rng)))
    print(f"espeak_corpus: {out}: {a.train_speakers} train / {a.test_speakers} test speakers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

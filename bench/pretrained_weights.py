"""Where does a speaker encoder trained on thousands of real speakers find the speaker? The frequency
weights of resemblyzer's pretrained VoiceEncoder (GE2E, 40 mel bands, weights shipped in its pip
package) by gradients.any_model, over the utterances of a data dir.

    pip install --no-deps resemblyzer==0.1.4 && pip install webrtcvad-wheels librosa
    python bench/pretrained_weights.py --data-dir data/espeak/test [--methods gradient,integrated_gradients]
        [--out bench/results/resemblyzer_weights.csv] [--plot docs/img/resemblyzer_weights.png]

Each wav goes through resemblyzer's own preprocessing (preprocess_wav: resampling, normalisation,
VAD trimming) and mel front end; the target is each utterance's cosine to its own embedding (no
classifier). Writes the 40 weights with each band's centre frequency, and a plot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.kaldi_files import read_dict  # noqa: E402
from gradients.any_model import model_frequency_weights  # noqa: E402


def write_csv(out: Path, hz: np.ndarray, vs: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "band,centre_hz," + ",".join(f"{m}_over_max" for m in vs) + "\n"
    rows = [f"{i},{h:.1f}," + ",".join(f"{v[i] / v.max():.4f}" for v in vs.values()) + "\n" for i, h in enumerate(hz)]
    out.write_text(header + "".join(rows))


def plot(path: str, hz: np.ndarray, vs: dict, n_utts: int, data_dir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    for m, v in vs.items():
        ax.plot(hz, v / v.max(), marker="o", ms=2.5, lw=1.2, label=m)
    ax.legend(fontsize=7)
    ax.set_xlabel("mel band centre (Hz)")
    ax.set_ylabel("weight / max")
    title = f"resemblyzer VoiceEncoder (mel power input): weights over {n_utts} utterances of {data_dir}"
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--methods", default="gradient,integrated_gradients,integrated_gradients_time_mean")
    p.add_argument("--max-utts", type=int, default=48)
    p.add_argument("--out", default="bench/results/resemblyzer_weights.csv")
    p.add_argument("--plot", default="docs/img/resemblyzer_weights.png")
    a = p.parse_args()
    import librosa
    from resemblyzer import VoiceEncoder, preprocess_wav
    from resemblyzer.audio import wav_to_mel_spectrogram
    from resemblyzer.hparams import mel_n_channels, sampling_rate

    wavs = sorted(read_dict(Path(a.data_dir) / "wav.scp").items())[: a.max_utts]
    mels = [wav_to_mel_spectrogram(preprocess_wav(Path(w.strip()))) for _, w in wavs]  # (frames, 40) each
    enc = VoiceEncoder("cpu", verbose=False)
    vs = {m: model_frequency_weights(enc, mels, m, chunk_frames=1600) for m in a.methods.split(",")}
    hz = librosa.mel_frequencies(n_mels=mel_n_channels + 2, fmax=sampling_rate / 2)[1:-1]  # band centres
    write_csv(Path(a.out), hz, vs)
    plot(a.plot, hz, vs, len(mels), a.data_dir)
    for m, v in vs.items():
        peak = int(np.argmax(v))
        print(
            f"pretrained_weights: {m}: {len(mels)} utterances, peak at band {peak} ({hz[peak]:.0f} Hz); "
            f"above 4 kHz {v[hz > 4000].mean() / v.max():.2f} of the peak on average"
        )
    print(f"pretrained_weights: -> {a.out}, {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

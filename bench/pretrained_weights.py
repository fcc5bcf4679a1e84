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
    methods = a.methods.split(",")
    vs = {m: model_frequency_weights(enc, mels, m, chunk_frames=1600) for m in methods}
    hz = librosa.mel_frequencies(n_mels=mel_n_channels + 2, fmax=sampling_rate / 2)[1:-1]  # band centres
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("band,centre_hz," + ",".join(f"{m}_over_max" for m in methods) + "\n" + "".join(
        f"{i},{h:.1f}," + ",".join(f"{vs[m][i] / vs[m].max():.4f}" for m in methods) + "\n"
        for i, h in enumerate(hz)))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3))
    for m in methods:
        ax.plot(hz, vs[m] / vs[m].max(), marker="o", ms=2.5, lw=1.2, label=m)
    ax.legend(fontsize=7)
    ax.set_xlabel("mel band centre (Hz)")
    ax.set_ylabel("weight / max")
    ax.set_title(f"resemblyzer VoiceEncoder (mel power input): weights over {len(mels)} utterances of {a.data_dir}",
                 fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.plot, dpi=120)
    for m, v in vs.items():
        peak = int(np.argmax(v))
        print(f"pretrained_weights: {m}: {len(mels)} utterances, peak at band {peak} ({hz[peak]:.0f} Hz); "
              f"above 4 kHz {v[hz > 4000].mean() / v.max():.2f} of the peak on average")
    print(f"pretrained_weights: -> {out}, {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A corpus unlike the synthetic one: read speech, one recording of 3-15 s per speaker cut into 3-4 s
segments (1-5 per speaker, Kaldi segments file), ids of another shape, no test trials list. run.sh
stages 1-4 must run on it with no flag that works around its shape, and say how they sized
validation and trials."""

import numpy as np

import pytest

from conftest import run, tiny_configs, write
from datasets.audio import write_wav
from datasets.synthetic import Utterance, render


def read_speech_dir(d, speakers, seed):
    """One recording per speaker, 1-5 segments of 3-4 s each."""
    rng = np.random.default_rng(seed)
    segs, wavs, utts = [], {}, {}
    for k in speakers:
        spk, n = f"reader{k:03d}", int(rng.integers(1, 6))
        lengths = rng.uniform(3.0, 4.0, size=n)
        rec = f"{spk}_book"
        wav = d / "wav" / f"{rec}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        write_wav(wav, render(Utterance(rec, spk, k, 0, 0, float(lengths.sum()) + 0.1), seed, None), 16000)
        wavs[rec] = wav
        start = 0.0
        for i, sec in enumerate(lengths):
            utt = f"{spk}_seg{i + 1}"
            segs.append(f"{utt} {rec} {start:.2f} {start + sec:.2f}\n")
            utts[utt], start = spk, start + sec
    d.mkdir(parents=True, exist_ok=True)
    write(d / "wav.scp", "".join(f"{r} {w}\n" for r, w in sorted(wavs.items())))
    write(d / "segments", "".join(sorted(segs)))
    write(d / "utt2spk", "".join(f"{u} {s}\n" for u, s in sorted(utts.items())))
    spk2utt = {}
    for u, s in sorted(utts.items()):
        spk2utt.setdefault(s, []).append(u)
    write(d / "spk2utt", "".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return utts


@pytest.mark.slow
def test_run_sh_on_one_recording_per_speaker(tmp_path):
    data = tmp_path / "read"
    read_speech_dir(data / "train", range(1, 13), seed=3)
    read_speech_dir(data / "test", range(20, 26), seed=4)
    teacher, _ = tiny_configs(tmp_path, batch_size=16)
    p = run(
        [
            "./run.sh",
            "--data",
            str(data),
            "--stage",
            "1",
            "--stop-stage",
            "4",
            "--nj",
            "1",
            "--config",
            str(teacher),
            "--exp-dir",
            str(tmp_path / "exp"),
        ]
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "drawing target pairs within recordings instead" in out  # in-domain and test trials
    assert "has no trials list" in out and (data / "test" / "trials").exists()
    assert "speakers train without a hold-out" in out and "% of the audio) held out" in out
    assert "EER" in (tmp_path / "exp" / "results.md").read_text()
    assert (tmp_path / "exp" / "gradients" / "integrated_gradients" / "freq_weights.npy").exists()

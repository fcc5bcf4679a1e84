"""wav I/O, VoxCeleb preparation on fake trees with the real layout, and the synthetic corpus."""

import json

import numpy as np
import pytest

from conftest import run, write
from datasets.audio import AudioError, read_wav, write_wav
from datasets.datadir import validate_data_dir
from datasets.kaldi_files import DataDirError, read_dict, read_table
from datasets.synthetic import PRESETS, Preset, generate_corpus, plan_corpus, render


# ---------------------------------------------------------------- wav I/O
def test_wav_roundtrip_and_pipe(tmp_path):
    x = np.array([0, 1, -1, 32767, -32768, 40000], dtype=np.float64)
    write_wav(tmp_path / "a.wav", x)
    y, sr = read_wav(str(tmp_path / "a.wav"))
    assert sr == 16000 and y.shape == (1, 6)
    assert y[0].tolist() == [0, 1, -1, 32767, -32768, 32767]  # int16 scale, clipped
    z, _ = read_wav(f"cat {tmp_path / 'a.wav'} |")
    assert np.array_equal(y, z)


@pytest.mark.parametrize(
    "make, msg",
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"RIFF1234WAVEjunkjunkjunk"), "corrupt"),
        (lambda p: (write_wav(p, np.ones(1000)), p.write_bytes(p.read_bytes()[:-500])), "truncated"),
    ],
)
def test_bad_wavs(tmp_path, make, msg):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AudioError, match=msg):
        read_wav(str(p), what="utt1")


def test_failing_pipe(tmp_path):
    with pytest.raises(AudioError, match="utt1: pipe failed with exit code 3"):
        read_wav("bash -c 'echo oops >&2; exit 3' |", what="utt1")


# ---------------------------------------------------------------- VoxCeleb layouts
def fake_vox1(root):
    spk_videos = {
        "id10001": ["1zcIwhmdeo4", "7w0IBEWc9Qw"],
        "id10002": ["xTV-jFAUKcw"],
        "id10270": ["5r0dWxy17C8"],
        "id10300": ["ize_eiCFEg0", "Zn9E-x8Y5Qc"],
    }
    for spk, vids in spk_videos.items():
        for v in vids:
            for n in (1, 2):
                write_wav(root / "wav" / spk / v / f"{n:05d}.wav", np.zeros(800))
    write(
        root / "veri_test2.txt",
        "1 id10270/5r0dWxy17C8/00001.wav id10270/5r0dWxy17C8/00002.wav\n"
        "0 id10270/5r0dWxy17C8/00001.wav id10300/ize_eiCFEg0/00002.wav\n",
    )
    write(
        root / "list_test_all2.txt",
        "1 id10001/1zcIwhmdeo4/00001.wav id10001/7w0IBEWc9Qw/00002.wav\n"
        "0 id10002/xTV-jFAUKcw/00001.wav id10300/Zn9E-x8Y5Qc/00001.wav\n",
    )


def test_vox1_prepare_split_and_trials(tmp_path):
    root, out = tmp_path / "voxceleb1", tmp_path / "data" / "vox1"
    fake_vox1(root)
    p = run(
        [
            "python",
            "-m",
            "steps.prepare_voxceleb",
            "vox1",
            "--root",
            str(root),
            "--out",
            str(out),
            "--trials",
            str(root / "veri_test2.txt"),
            str(root / "list_test_all2.txt"),
        ]
    )
    assert p.returncode == 0, p.stderr
    dev, test = read_dict(out / "dev" / "utt2spk"), read_dict(out / "test" / "utt2spk")
    assert set(dev.values()) == {"id10001", "id10002"} and set(test.values()) == {"id10270", "id10300"}
    assert "id10002-xTV-jFAUKcw-00001" in dev  # video ids may contain '-'
    assert (out / "test" / "trials").read_text() == (
        "id10270-5r0dWxy17C8-00001 id10270-5r0dWxy17C8-00002 target\n"
        "id10270-5r0dWxy17C8-00001 id10300-ize_eiCFEg0-00002 nontarget\n"
    )
    assert (out / "test" / "trials_veri_test2").exists()
    assert (out / "all" / "trials_list_test_all2").read_text().splitlines()[
        1
    ] == "id10002-xTV-jFAUKcw-00001 id10300-Zn9E-x8Y5Qc-00001 nontarget"
    for part in ("dev", "test", "all"):
        assert validate_data_dir(out / part, no_feats=True) == [], part
    wav = read_dict(out / "dev" / "wav.scp")["id10001-1zcIwhmdeo4-00002"]
    assert wav.endswith("wav/id10001/1zcIwhmdeo4/00002.wav")


def test_vox1_meta_csv_and_bad_trials(tmp_path):
    root = tmp_path / "vox1"
    fake_vox1(root)
    meta = write(
        tmp_path / "vox1_meta.csv",
        "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
        "id10001\tA\tm\tUSA\ttest\nid10002\tB\tf\tUK\tdev\nid10270\tC\tm\tUSA\tdev\nid10300\tD\tf\tUSA\tdev\n",
    )
    from datasets.voxceleb import prepare_vox1

    counts = prepare_vox1(root, tmp_path / "out", meta=meta)
    assert counts == {"dev": 8, "test": 4}
    bad = write(
        tmp_path / "bad.txt",
        "1 id10270/5r0dWxy17C8/00001.wav id10270/5r0dWxy17C8/00002.wav\n"
        "1 id10270/5r0dWxy17C8/00009.wav id10270/5r0dWxy17C8/00002.wav\n",
    )
    with pytest.raises(DataDirError, match=r"bad.txt:2: utterance id10270-5r0dWxy17C8-00009 has no audio"):
        prepare_vox1(root, tmp_path / "out2", trial_lists=[bad])
    write(bad, "target a b\n")
    with pytest.raises(DataDirError, match="bad.txt:1: expected"):
        prepare_vox1(root, tmp_path / "out3", trial_lists=[bad])
    with pytest.raises(DataDirError, match="not found; expected the layout"):
        prepare_vox1(tmp_path / "nowhere", tmp_path / "out4")


def test_vox2_ffmpeg_pipes(tmp_path):
    root = tmp_path / "vox2" / "dev"
    for spk, vid in (("id00012", "21Uxsk56VDQ"), ("id00015", "0fijmz4vTVU")):
        write(root / "aac" / spk / vid / "00001.m4a", "fake")
    p = run(["python", "-m", "steps.prepare_voxceleb", "vox2", "--root", str(root), "--out", str(tmp_path / "d")])
    assert p.returncode == 0, p.stderr
    wav = read_dict(tmp_path / "d" / "wav.scp", max_fields=None)
    line = wav["id00012-21Uxsk56VDQ-00001"]
    assert line.startswith("ffmpeg -v 8 -i /") and line.endswith("00001.m4a -f wav -acodec pcm_s16le -|")
    assert validate_data_dir(tmp_path / "d", no_feats=True) == []


# ---------------------------------------------------------------- synthetic corpus
def test_tiny_corpus_valid_disjoint_and_deterministic(tiny_corpus, tmp_path):
    for part in ("train", "test"):
        assert validate_data_dir(tiny_corpus / part, no_feats=True) == [], part
    train_spk = set(read_dict(tiny_corpus / "train" / "utt2spk").values())
    test_spk = set(read_dict(tiny_corpus / "test" / "utt2spk").values())
    assert len(train_spk) == PRESETS["tiny"].train_speakers and not train_spk & test_spk
    trials = read_table(tiny_corpus / "test" / "trials", 2, 2, sorted_unique=False)
    labels = [e.fields[1] for e in trials]
    assert 0 < labels.count("target") < labels.count("nontarget")
    # same seed, other job count -> byte-identical wavs
    again = tmp_path / "again"
    generate_corpus(again, "tiny", seed=1, nj=2)
    for f in sorted((tiny_corpus / "wav").rglob("*.wav"))[:6]:
        assert f.read_bytes() == (again / f.relative_to(tiny_corpus)).read_bytes()
    other = generate_corpus(tmp_path / "other", "tiny", seed=2)
    assert other["voices"] != json.loads((tiny_corpus / "corpus.json").read_text())["voices"]


def test_corpus_rerun_keeps_and_refuses_mismatch(tiny_corpus):
    info = generate_corpus(tiny_corpus, "tiny", seed=1)  # same settings: kept as is
    assert info["train"]["utterances"] == 40
    with pytest.raises(FileExistsError, match="holds a different corpus"):
        generate_corpus(tiny_corpus, "tiny", seed=5)


def test_make_synthetic_command_errors(tmp_path):
    p = run(["python", "-m", "steps.make_synthetic", "--planted-band", "3000-2000", str(tmp_path / "x")])
    assert p.returncode == 1 and "0 < low < high" in p.stderr
    p = run(["python", "-m", "steps.make_synthetic", "--nj", "0", str(tmp_path / "x")])
    assert p.returncode == 2 and "invalid --nj" in p.stderr


def _log_spectrum(x):
    """Mean log power spectrum over 20 ms frames, 161 bins (bin k = 50 k Hz)."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 320)[::160] * np.hamming(320)
    return np.log(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-3).mean(0)


def _speaker_f_ratio(planted_band, n_spk=6, n_utt=5):
    """Per-bin between-speaker / within-speaker variance of level-normalised mean log spectra."""
    preset = Preset(n_spk, 0, n_utt, 0, 2, 1.5, 1.5)
    train, _ = plan_corpus(preset, seed=3)
    spec = np.array([_log_spectrum(render(u, 3, planted_band)) for u in train])  # (utt, freq)
    spec -= spec[:, 1:].mean(axis=1, keepdims=True)  # remove each utterance's overall level
    spec = spec.reshape(n_spk, n_utt, 161)  # (speaker, utterance, freq)
    return spec.mean(axis=1).var(axis=0) / spec.var(axis=1).mean(axis=0)


def test_planted_band_carries_the_speaker_information():
    ratio = _speaker_f_ratio((2000, 3000))
    hz = np.arange(161) * 50
    inside = (hz > 2100) & (hz < 2900)
    outside = (hz > 0) & ((hz < 1800) | (hz > 3200))
    # with 5 utterances per speaker, chance F-ratio is about 1/5
    assert np.median(ratio[inside]) > 4 * np.median(ratio[outside])
    assert np.median(ratio[inside]) > np.percentile(ratio[outside], 90)


def test_normal_voices_differ_across_the_band_not_in_one_bin():
    ratio = _speaker_f_ratio(None)[1:]
    assert (ratio > 0.5).sum() > 40  # many bins carry speaker information
    assert ratio.max() / ratio.sum() < 0.1  # no single bin holds most of it


def test_experiment_preset_is_the_demo_with_200_test_speakers():
    demo_train, demo_test = plan_corpus(PRESETS["demo"], 777)
    exp_train, exp_test = plan_corpus(PRESETS["experiment"], 777)
    assert exp_train == demo_train  # the same training corpus: a demo teacher serves both
    assert len({u.spk for u in exp_test}) == 200 and set(demo_test) <= set(exp_test)
    assert np.array_equal(render(exp_test[0], 777, None), render(exp_test[0], 777, None))

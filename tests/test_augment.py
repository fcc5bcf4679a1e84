"""Augmentation building blocks: realised SNR, aligned reverberation, MUSAN / RIRS layouts and stand-ins."""

import json

import numpy as np
import pytest

from datasets import synth_voice as sv
from datasets.audio import read_wav
from datasets.augment import AugmentError, add_background, add_foreground, parse_snrs, power, reverberate, scaled_noise
from datasets.augment_corpora import make_musan_standin, make_rirs_standin, read_musan, read_rir_list, rir
from datasets.kaldi_files import DataDirError


def speech(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return sv.apply_channel(rng, sv.synthesize(rng, sv.random_voice(rng), seconds), sv.random_channel(rng))


def snr(clean, mixed):
    return 10 * np.log10(power(clean) / power(mixed - clean))


@pytest.mark.parametrize("target", [20.0, 15.0, 10.0, 5.0, 0.0, -5.0])
def test_background_snr_within_half_db(target):
    x = speech()
    noise = np.random.default_rng(1).standard_normal(5000) * 300  # shorter: looped
    y = add_background(x, [noise], [target])
    assert abs(snr(x, y) - target) <= 0.5


def test_babble_each_speaker_at_its_snr():
    x = speech()
    babble = [speech(1.3, seed=s) for s in (2, 3, 4)]
    snrs = [20.0, 17.0, 13.0]
    y = add_background(x, babble, snrs)
    # power of a sum of independent signals adds: the total SNR follows from the parts
    expected = -10 * np.log10(sum(10 ** (-s / 10) for s in snrs))
    assert abs(snr(x, y) - expected) <= 0.5


def test_foreground_noises_each_at_their_snr():
    x = speech(3.0)
    rng = np.random.default_rng(5)
    noises = [rng.standard_normal(8000) * 100, rng.standard_normal(6000) * 900]
    y = add_foreground(x, noises, [15.0, 5.0], interval=16000)
    px = power(x)
    first, second = (y - x)[:8000], (y - x)[24000:30000]
    assert abs(10 * np.log10(px / power(first)) - 15.0) <= 0.5
    assert abs(10 * np.log10(px / power(second)) - 5.0) <= 0.5
    assert not np.any((y - x)[8000:24000])  # the one-second gap


def test_reverberation_keeps_the_direct_path_aligned():
    x = speech()
    h = rir(np.random.default_rng(0), rt60=0.5, delay=321)
    y = reverberate(x, h)
    assert len(y) == len(x) and abs(power(y) - power(x)) / power(x) < 1e-6
    lags = np.arange(-400, 401)
    xc = [np.dot(x[max(0, -k) : len(x) - max(0, k)], y[max(0, k) : len(y) - max(0, -k)]) for k in lags]
    assert lags[int(np.argmax(xc))] == 0  # no time shift of the speech


def test_bad_inputs():
    with pytest.raises(AugmentError, match="speech energy is zero"):
        add_background(np.zeros(100), [np.ones(10)], [10.0])
    with pytest.raises(AugmentError, match="silent noise"):
        scaled_noise(1.0, np.zeros(10), 5.0)
    with pytest.raises(AugmentError, match="all zeros"):
        reverberate(np.ones(10), np.zeros(5))
    assert parse_snrs("15:10:5:0") == [15.0, 10.0, 5.0, 0.0]
    with pytest.raises(AugmentError, match="expected numbers separated by ':'"):
        parse_snrs("15,10")


def test_standins_in_the_published_layouts(tmp_path):
    musan = make_musan_standin(tmp_path / "musan", n_each=4, seconds=1.0)
    lists = read_musan(musan)
    assert {k: len(v) for k, v in lists.items()} == {"noise": 4, "music": 2, "speech": 4}  # music without vocals
    assert len(read_musan(musan, use_vocals=True)["music"]) == 4
    x, sr = read_wav(str(lists["speech"][0][1]))
    assert sr == 16000 and power(x[0]) > 0
    make_rirs_standin(tmp_path, n_rooms=2, per_room=2)
    rirs = read_rir_list(tmp_path / "RIRS_NOISES", "smallroom")
    assert len(rirs) == 4 and rirs[0][0] == "smallroom-Room001-00001"
    h = read_wav(str(rirs[0][1]))[0][0]
    assert np.argmax(np.abs(h)) > 0  # a direct path after a short delay
    lst = tmp_path / "RIRS_NOISES" / "simulated_rirs" / "mediumroom" / "rir_list"
    lst.write_text(lst.read_text().replace("Room001-00001.wav", "Room001-09999.wav"))
    with pytest.raises(DataDirError, match="rir_list:1: RIR file not found"):
        read_rir_list(tmp_path / "RIRS_NOISES", "mediumroom")
    with pytest.raises(DataDirError, match="expected the MUSAN layout"):
        read_musan(tmp_path / "nowhere")


def _augment_features_twice(aug, tmp_path) -> list[dict]:
    """The augmented dir's features from two make_spect.sh runs with the same dither seed."""
    import kaldiio

    from conftest import run

    feats = []
    for rerun in range(2):
        p = run(f"steps/make_spect.sh --nj 2 --dither-seed 0 {aug} {aug}/log{rerun} {tmp_path}/spect{rerun}")
        assert p.returncode == 0, p.stderr
        feats.append(dict(kaldiio.load_scp_sequential(str(aug / "feats.scp"))))
    return feats


def test_augmented_data_dirs_features_in_process_and_reproducible(tiny_corpus, tmp_path):
    import shutil

    from conftest import run
    from datasets.datadir import validate_data_dir
    from datasets.kaldi_files import read_dict

    make_musan_standin(tmp_path / "musan", n_each=3, seconds=1.5)
    make_rirs_standin(tmp_path, n_rooms=1, per_room=2)
    d = tmp_path / "data" / "train"
    shutil.copytree(tiny_corpus / "train", d)
    augment = f"python -m steps.augment_data_dir --data-dir {d} --musan {tmp_path}/musan --rirs {tmp_path}/RIRS_NOISES"
    p = run(augment)
    assert p.returncode == 0, p.stderr
    for kind in ("reverb", "noise", "music", "babble", "aug"):
        assert validate_data_dir(tmp_path / "data" / f"train_{kind}", no_feats=True) == [], kind
    aug = tmp_path / "data" / "train_aug"
    assert len(read_dict(aug / "utt2spk")) == 4 * 40
    u, spk = next(iter(read_dict(d / "utt2spk").items()))
    assert read_dict(aug / "utt2spk")[f"{u}-babble"] == spk
    feats = _augment_features_twice(aug, tmp_path)
    assert feats[0].keys() == feats[1].keys() and len(feats[0]) == 160
    assert all(np.array_equal(feats[0][k], feats[1][k]) for k in feats[0])  # same seed, same features
    kinds = [feats[0][f"{u}-{k}"] for k in ("reverb", "noise", "music", "babble")]
    assert all(f.shape[1] == 161 for f in kinds)
    assert not any(np.allclose(kinds[i], kinds[j]) for i in range(4) for j in range(i))  # different copies
    p = run(f"{augment} --kinds music --subset 10 --write-wav {tmp_path}/wavs")
    assert p.returncode == 0, p.stderr
    assert len(read_dict(aug / "utt2spk")) == 10 and not (aug / "utt2aug").exists()
    p = run(f"{augment} --kinds echo")
    assert p.returncode == 1 and "unknown augmentation kind" in p.stderr
    p = run(f"{augment} --music-snrs 15,10")
    assert p.returncode == 1 and "bad SNR list '15,10'" in p.stderr
    p = run(f"python -m steps.augment_data_dir --data-dir {d} --musan {tmp_path}/nowhere --rirs {tmp_path}/RIRS_NOISES")
    assert p.returncode == 1 and "expected the MUSAN layout" in p.stderr
    bad = next((tmp_path / "musan" / "noise" / "free-sound").glob("*.wav"))
    bad.write_bytes(b"not a wav")
    p = run(f"python -m steps.augment_data_dir --data-dir {d} --musan {tmp_path}/musan --rirs {tmp_path}/RIRS_NOISES")
    assert p.returncode == 1 and f"augmentation source {bad}: cannot be read" in p.stderr


@pytest.mark.slow
def test_a_prep_egs_with_augmentation_and_combine(tiny_corpus, tmp_path):
    import shutil

    from conftest import run, tiny_configs
    from datasets.datadir import validate_data_dir
    from datasets.kaldi_files import read_dict
    from datasets.split import combine_data_dirs

    data = tmp_path / "synth"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns("wav"))
    p = run(f"./a_prep_egs.sh --data {data} --aug true --num-frames 120 --input-per-spks 8 --num-pairs 100")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    comb = data / "train_comb"
    assert validate_data_dir(comb) == []
    assert len(read_dict(comb / "utt2spk")) == 5 * 40  # clean + 4 copies
    assert not (comb / "utt2aug").exists()  # only the augmented part had recipes
    egs_src = {line.split()[1] for line in (data / "egs" / "spect_aug" / "train" / "egs2src").read_text().splitlines()}
    assert any(u.endswith(("-reverb", "-noise", "-music", "-babble")) for u in egs_src)
    assert (comb / "conf" / "feats.conf").read_bytes() == (data / "train" / "conf" / "feats.conf").read_bytes()
    with pytest.raises(DataDirError, match="also in another source"):
        combine_data_dirs(tmp_path / "x", [data / "train", data / "train"])
    # a teacher trained on the augmented egs extracts weights with its own label index, whatever
    # happens to <data>/egs/spect (the clean egs b_extract.sh used to read it from)
    teacher, _ = tiny_configs(tmp_path)
    exp = tmp_path / "aug_teacher"
    p = run(f"./c_train.sh --data {data} --config {teacher} --aug true --exp-dir {exp} --stop-stage 1")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert (exp / "spk2label").read_bytes() == (data / "egs" / "spect_aug" / "spk2label").read_bytes()
    assert not (data / "egs" / "spect").exists()  # no clean egs: only the teacher's own index can serve
    p = run(f"./b_extract.sh --teacher-exp {exp} --method gradient --nj 1")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    maps = (exp / "gradients" / "gradient" / "maps.scp").read_text().splitlines()
    assert len(maps) == 8 and json.loads((exp / "gradients" / "gradient" / "extract.json").read_text())["data_dir"] == str(
        (data / "train_comb").resolve()
    )

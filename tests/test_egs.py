"""Trials, trials dir, egs and the training / evaluation loaders (issue: trials, egs, a_prep_egs.sh)."""

import shutil

import kaldiio
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import run
from datasets.datadir import validate_data_dir
from datasets.egs import cut, describe_split, plan_speaker_egs, split_valid
from datasets.kaldi_files import DataDirError, read_dict, read_table
from datasets.loader import CropBatchSampler, EgsDataset, UtteranceLoader, chunk_plan, collate, length_batches
from datasets.trials import recordings, sample_trials


@pytest.fixture(scope="module")
def feat_data(tiny_corpus, tmp_path_factory):
    """The tiny corpus with features, fixed; shared read-only by this module's tests."""
    root = tmp_path_factory.mktemp("egs") / "synth"
    shutil.copytree(tiny_corpus, root, ignore=shutil.ignore_patterns("wav"), symlinks=True)
    for part in ("train", "test"):  # wav.scp keeps pointing into the session corpus
        p = run(f"steps/make_spect.sh --nj 2 {root}/{part} {root}/{part}/log {root}/spect/{part}")
        assert p.returncode == 0, p.stderr
    return root


def test_seed_trials_commands_verbatim(feat_data, tmp_path):
    d = tmp_path / "dev"
    shutil.copytree(feat_data / "train", d)
    p = run(f"python datasets/make_trials.py 20000 {d}")
    assert p.returncode == 0, p.stderr
    shutil.move(d / "trials", d / "trials_2w")
    p = run(f"python datasets/split_trials_dir.py --data-dir {d} --out-dir {d}/trials_dir --trials trials_2w")
    assert p.returncode == 0, p.stderr
    assert validate_data_dir(d / "trials_dir") == []
    feats = dict(kaldiio.load_scp_sequential(str(d / "trials_dir" / "feats.scp")))
    assert all(str(d / "trials_dir" / "feats.ark") in v for v in read_dict(d / "trials_dir" / "feats.scp").values())
    src = dict(kaldiio.load_scp_sequential(str(d / "feats.scp")))
    u = next(iter(feats))
    assert np.abs(feats[u] - src[u]).max() < 0.05 * np.ptp(src[u])  # copied (compressed again)


def test_trials_balanced_unique_seeded():
    u2s = {f"s{s}-r{r}-{n}": f"s{s}" for s in range(20) for r in range(3) for n in range(4)}
    t = sample_trials(u2s, 1000, seed=1)
    labels = [x[2] for x in t]
    assert labels.count("target") == labels.count("nontarget") == 500
    assert all(a != b for a, b, _ in t)
    assert len({(min(a, b), max(a, b)) for a, b, _ in t}) == len(t)
    assert all((u2s[a] == u2s[b]) == (lab == "target") for a, b, lab in t)
    assert t == sample_trials(u2s, 1000, seed=1) and t != sample_trials(u2s, 1000, seed=2)
    # targets are not anchored on one utterance per speaker
    anchors = {a for a, _, lab in t if lab == "target"}
    assert len(anchors) > 100
    rec_of, how = recordings(u2s)
    assert how == "utterance ids"
    t2 = sample_trials(u2s, 1000, seed=1, rec_of=rec_of)
    assert all(a.rsplit("-", 1)[0] != b.rsplit("-", 1)[0] for a, b, lab in t2 if lab == "target")


def test_trials_dir_rejects_utterances_without_features(feat_data, tmp_path):
    d = tmp_path / "dev"
    shutil.copytree(feat_data / "train", d)
    first = next(iter(read_dict(d / "utt2spk")))
    (d / "trials_x").write_text(f"{first} spk0099-s01-00001 target\n")
    p = run(f"python datasets/split_trials_dir.py --data-dir {d} --out-dir {d}/td --trials trials_x")
    assert p.returncode == 1 and "trials_x:1: utterance 'spk0099-s01-00001' has no features" in p.stderr
    assert not (d / "td").exists()


def make_egs(d, out, *extra, train=True):
    fixed = "--feat-type spect --input-per-spks 40 --num-frames 120 --num-valid 2 --feat-format kaldi --out-format kaldi_cmp"
    cmd = ["python", "datasets/make_egs.py", "--data-dir", str(d), "--out-dir", str(out), *fixed.split(), "--nj", "2"]
    return run([*cmd, *(["--train"] if train else []), "--out-set", "train" if train else "valid", *extra])


def test_egs_split_starts_and_label_index(feat_data, tmp_path):
    out = tmp_path / "egs"
    assert make_egs(feat_data / "train", out).returncode == 0
    assert make_egs(feat_data / "train", out, train=False).returncode == 0
    train_src = {e.key: (e.fields[0], int(e.fields[1])) for e in read_table(out / "train" / "egs2src", 2, 2)}
    valid_utts = set(read_dict(out / "valid" / "utt2spk"))
    assert len(valid_utts) == 2 * 8 and len(train_src) == 40 * 8
    assert not valid_utts & {u for u, _ in train_src.values()}  # no validation utterance in training egs
    starts = np.array([s for _, s in train_src.values()])
    assert (starts > 0).mean() > 0.5 and len(set(starts)) > 20  # spread over the utterances, not all 0
    frames = {u: int(n) for u, n in read_dict(feat_data / "train" / "utt2num_frames").items()}
    assert all(s <= max(frames[u] - 120, 0) for u, s in train_src.values())
    labels = read_dict(out / "spk2label")
    assert list(labels.values()) == [str(i) for i in range(8)]
    first = (out / "spk2label").read_bytes()
    mats = dict(kaldiio.load_scp_sequential(str(out / "train" / "feats.scp")))
    assert all(m.shape == (120, 161) for m in mats.values())
    # rerun: label index unchanged, jobs skipped, identical egs
    before = (out / "train" / "feats.scp").read_text()
    assert make_egs(feat_data / "train", out).returncode == 0
    assert (out / "spk2label").read_bytes() == first and (out / "train" / "feats.scp").read_text() == before


def test_egs_label_index_mismatch_and_bad_input(feat_data, tmp_path):
    out = tmp_path / "egs"
    (out).mkdir()
    (out / "spk2label").write_text("spk0001 0\nspk0002 1\n")
    p = make_egs(feat_data / "train", out)
    assert p.returncode == 1 and "label index on disk differs" in p.stderr
    assert not (out / "train").exists()
    d = tmp_path / "few"
    shutil.copytree(feat_data / "train", d)
    p = make_egs(d, tmp_path / "e2", "--num-valid", "5")  # every speaker has 5: all train without a hold-out
    assert p.returncode == 0 and "held out from 0 of" in p.stdout, p.stderr
    assert make_egs(d, tmp_path / "e4", "--num-valid", "two").returncode == 2
    (d / "feats.scp").write_text("")
    p = make_egs(d, tmp_path / "e3")
    assert p.returncode == 1 and "feats.scp" in p.stderr


def test_plan_and_cut_units():
    rng = np.random.default_rng(0)
    plan, skipped = plan_speaker_egs(["a", "b", "c"], {"a": 1000, "b": 130, "c": 50}, 2000, 120, rng, "tile")
    counts = {u: sum(p[0] == u for p in plan) for u in "abc"}
    assert counts["a"] > 10 * counts["b"] and skipped == 0  # proportional to chunk positions
    assert {s for u, s in plan if u == "c"} == {0}
    _, skipped = plan_speaker_egs(["a", "c"], {"a": 1000, "c": 50}, 10, 120, rng, "skip")
    assert skipped == 1
    m = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)  # (time, freq)
    assert cut(m, 0, 120).shape == (120, 3) and np.array_equal(cut(m, 0, 120)[50], m[0])
    train, valid = split_valid({"a": ["a1", "a2", "a3"], "b": ["b1"]}, 1, 0)  # b is too small to hold out
    assert len(valid["a"]) == 1 and valid["b"] == [] and train["b"] == ["b1"]


def test_loader_crops_within_bounds_per_batch(feat_data, tmp_path):
    out = tmp_path / "egs"
    assert make_egs(feat_data / "train", out).returncode == 0
    ds = EgsDataset(out / "train", num_classes=8)
    sampler = CropBatchSampler(len(ds), batch_size=16, crop_min=60, crop_max=100, seed=3)
    lengths, firsts = [], []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
        batches = list(loader)
        lengths.append([x.shape[1] for x, _ in batches])
        firsts.append(batches[0][0])
        for x, y in batches:
            assert x.shape[0] == 16 and x.shape[2] == 161 and 60 <= x.shape[1] <= 100 and y.max() < 8
    assert lengths[0] == lengths[1] and torch.equal(firsts[0], firsts[1])  # worker count does not matter
    assert len(set(lengths[0])) > 3
    sampler.set_epoch(1)
    assert [b[0] for b in sampler] != [b[0] for b in (sampler.set_epoch(0) or sampler)]
    with pytest.raises(DataDirError, match="label 7 but the head has 4 classes"):
        EgsDataset(out / "train", num_classes=4)


def test_sampler_ranks_and_resume():
    full = list(CropBatchSampler(100, 10, 5, 9, seed=1))
    r0 = list(CropBatchSampler(100, 10, 5, 9, seed=1, rank=0, num_replicas=2))
    r1 = list(CropBatchSampler(100, 10, 5, 9, seed=1, rank=1, num_replicas=2))
    assert r0 == full[0::2] and r1 == full[1::2]
    s = CropBatchSampler(100, 10, 5, 9, seed=1)
    s.set_epoch(0, start_batch=4)
    assert list(s) == full[4:]


def test_length_batches_and_chunks():
    assert chunk_plan(100, 3000) == [(0, 100)]
    chunks = chunk_plan(7001, 3000)
    assert len(chunks) == 3 and len({e - s for s, e in chunks}) == 1 and chunks[-1][1] == 7001
    covered = set()
    for s, e in chunks:
        covered |= set(range(s, e))
    assert covered == set(range(7001))
    batches = list(length_batches({"a": 300, "b": 300, "c": 500, "d": 7001}, 3000, 700))
    for b in batches:
        assert len({e - s for _, s, e in b}) == 1 and sum(e - s for _, s, e in b) <= max(700, b[0][2] - b[0][1])
    assert sorted(u for b in batches for u, _, _ in b) == ["a", "b", "c", "d", "d", "d"]


def test_utterance_loader_full_length(feat_data):
    d = feat_data / "test"
    feats = read_dict(d / "feats.scp")
    lengths = {u: int(n) for u, n in read_dict(d / "utt2num_frames").items()}
    seen = {}
    for items, x in UtteranceLoader(feats, lengths, max_frames=150, batch_frames=600):
        assert x.shape[0] == len(items) and x.shape[2] == 161
        for (utt, s, e), m in zip(items, x):
            seen.setdefault(utt, []).append((s, e))
            assert torch.allclose(m, torch.from_numpy(kaldiio.load_mat(feats[utt])[s:e]))
    assert set(seen) == set(lengths)
    with pytest.raises(DataDirError, match="shorter than the model's 10000 frames"):
        UtteranceLoader(feats, lengths, min_frames=10000)


def test_a_prep_egs_on_synthetic(tiny_corpus, tmp_path):
    data = tmp_path / "synth"
    shutil.copytree(tiny_corpus, data, ignore=shutil.ignore_patterns("wav"))
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 200 --num-frames 120 --input-per-spks 8")
    assert p.returncode == 0, p.stdout + p.stderr
    for n in range(1, 6):
        assert len(list(data.glob(f".a_prep_egs.spect.*.stage{n}.done"))) == 1
    assert (data / "train" / "trials_2w").exists() and (data / "train" / "trials_dir" / "feats.ark").exists()
    assert len(read_dict(data / "egs" / "spect" / "train" / "feats.scp")) == 64
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 200 --num-frames 120 --input-per-spks 8")
    assert p.returncode == 0 and "Stage 1" not in p.stdout and "Stage 5" not in p.stdout  # finished: skipped
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 200 --num-frames 100 --input-per-spks 8")
    assert p.returncode == 0 and "Stage 4" not in p.stdout and "Stage 5" in p.stdout  # other egs: stage 5 again


@pytest.mark.parametrize("compression", [None, 1, 2, 3])
def test_fast_row_reader_equals_kaldiio(tmp_path, compression):
    from datasets.ark_read import num_rows, read_rows

    rng = np.random.default_rng(0)
    mats = {f"u{i}": (rng.standard_normal((50 + i, 161)) * 3 + 2).astype(np.float32) for i in range(5)}
    kaldiio.save_ark(str(tmp_path / "a.ark"), mats, scp=str(tmp_path / "a.scp"), compression_method=compression)
    fds = {}
    for spec in read_dict(tmp_path / "a.scp").values():
        ref = kaldiio.load_mat(spec)
        assert num_rows(spec, fds) == len(ref)
        assert np.abs(read_rows(spec, fds) - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
        assert np.array_equal(read_rows(spec, fds, 7, 30), read_rows(spec, fds)[7:30])


def test_auto_validation_split_is_sized_from_the_corpus():
    def utts(spk, n):
        return [f"{spk}-u{i:02d}" for i in range(n)]

    big = {f"s{k}": utts(f"s{k}", 24) for k in range(40)}  # the demo shape: 2 each, 8.3 %
    _, valid = split_valid(big, None, 0)
    assert all(len(v) == 2 for v in valid.values())
    small = {f"s{k}": utts(f"s{k}", 1 + k % 5) for k in range(100)}  # 1-5 segments per speaker
    train, valid = split_valid(small, None, 0)
    held = sum(len(v) for v in valid.values())
    assert 0 < held <= 0.10 * 300 and all(len(v) <= 1 for v in valid.values())
    assert all(not valid[s] for s in small if len(small[s]) < 3)  # too few: trains on all of them
    assert all(len(train[s]) >= 2 for s in small if valid[s])
    lengths = {u: 100 for us in small.values() for u in us}
    line = describe_split(valid, lengths, None)
    assert f"{held} utterances ({100 * held / 300:.1f} % of the audio)" in line and "train without a hold-out" in line


def test_a_prep_egs_fbank_after_spect_makes_fbank(tiny_egs, tmp_path):
    """The stage markers key on the feature type (and every option): a second feature type on the same
    --data is made, not skipped with 'Done.'."""
    data = tmp_path / "synth"
    shutil.copytree(tiny_egs, data)
    p = run(f"./a_prep_egs.sh --data {data} --num-pairs 100 --num-frames 120 --input-per-spks 16 --feat-type fbank")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Stage 1: fbank features" in p.stdout
    assert (data / "train" / "conf" / "feat_type").read_text().strip() == "fbank"
    assert len(read_dict(data / "egs" / "fbank" / "train" / "feats.scp")) == 8 * 16  # 8 training speakers

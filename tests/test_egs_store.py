"""How egs are stored (issue 28, egs that scale): row ranges of the feature arks (kaldi_ref), CM bytes cut
per column (kaldi_cmp), copies; the reader of Kaldi row ranges; the numpy eg table and its checks."""

import json

import kaldiio
import numpy as np
import pytest
import torch

from datasets.ark_read import ArkReadError, cm_slice, matrix_blob, num_rows, read_packed, read_rows, split_spec
from datasets.kaldi_files import DataDirError, read_dict, read_pairs
from datasets.loader import EgsDataset
from steps import make_egs


def feature_dir(d, lengths=(230, 61, 180, 90, 300, 150), speakers=3, compression=2):
    """A data dir of speakers x len(lengths) utterances with (foreign-shaped) ids and CM (or FM) features."""
    rng = np.random.default_rng(1)
    mats = {
        f"Sp{s}_r{i}.seg": (rng.standard_normal((n, 40)) * (1 + s) + i).astype(np.float32)
        for s in range(speakers)
        for i, n in enumerate(lengths)
    }
    mats.update({f"Sq_r{i}.seg": rng.standard_normal((n, 40)).astype(np.float32) for i, n in enumerate((40, 70))})
    d.mkdir(parents=True)
    kaldiio.save_ark(str(d / "raw.ark"), mats, scp=str(d / "feats.scp"), compression_method=compression)
    keys = sorted(mats)
    (d / "utt2spk").write_text("".join(f"{k} {k.split('_')[0]}\n" for k in keys))
    (d / "utt2num_frames").write_text("".join(f"{k} {len(mats[k])}\n" for k in keys))
    return {k: kaldiio.load_mat(v) for k, v in read_dict(d / "feats.scp").items()}


def make(d, out, fmt, *extra):
    fixed = "--out-set train --train --input-per-spks 12 --num-frames 100 --num-valid 0 --nj 2".split()
    return make_egs.main(["--data-dir", str(d), "--out-dir", str(out), *fixed, "--out-format", fmt, *extra])


@pytest.mark.parametrize("fmt", ["kaldi_ref", "kaldi_cmp"])
def test_stored_egs_are_the_source_rows_exactly(tmp_path, fmt, capsys):
    src = feature_dir(tmp_path / "data")
    assert make(tmp_path / "data", tmp_path / "egs", fmt) == 0
    line = capsys.readouterr().out
    out = tmp_path / "egs" / "train"
    scp, src_of = read_dict(out / "feats.scp"), {e: v.split() for e, v in read_dict(out / "egs2src", 2, 2).items()}
    stored = json.loads((out / "egs.json").read_text())["stored"]
    short = sum(len(src[src_of[e][0]]) < 100 for e in scp)  # speaker Sq's 40 and 70 frames: tiled copies
    assert short > 0 and stored["copy"] == short and stored["ref" if fmt == "kaldi_ref" else "cut"] == len(scp) - short
    assert f"{short} copied" in line
    for eg, spec in scp.items():
        utt, start = src_of[eg][0], int(src_of[eg][1])
        got = kaldiio.load_mat(spec)  # Kaldi's reader (row ranges included) is the oracle
        assert got.shape == (100, 40)
        if len(src[utt]) >= 100:
            assert np.array_equal(got, src[utt][start : start + 100])  # not quantised a second time
            assert ("[" in spec) == (fmt == "kaldi_ref")
        np.testing.assert_allclose(read_rows(spec, {}), got, rtol=1e-5, atol=1e-4)
    if fmt == "kaldi_ref":
        assert (out / "egs.1.ark").stat().st_size < 100 * 40 * (short + 1)  # only the copies hold bytes


def test_cm_slice_keeps_headers_and_cuts_columns(tmp_path):
    rng = np.random.default_rng(0)
    m = (rng.standard_normal((77, 13)) * 4).astype(np.float32)
    kaldiio.save_ark(str(tmp_path / "a.ark"), {"u": m}, scp=str(tmp_path / "a.scp"), compression_method=2)
    spec = read_dict(tmp_path / "a.scp")["u"]
    blob = matrix_blob(spec, {})
    (tmp_path / "b.ark").write_bytes(b"v " + cm_slice(blob, 20, 31))
    assert np.array_equal(kaldiio.load_mat(f"{tmp_path}/b.ark:2"), kaldiio.load_mat(spec)[20:51])
    with pytest.raises(ValueError, match="rows 60..90 of a 77-row"):
        cm_slice(blob, 60, 31)


def test_row_range_specs_read_inside_their_range(tmp_path):
    src = feature_dir(tmp_path / "data", lengths=(120,), speakers=1)
    spec = read_dict(tmp_path / "data" / "feats.scp")["Sp0_r0.seg"]
    fds = {}
    assert split_spec(f"{spec}[10:59]")[2:] == (10, 50)
    assert num_rows(f"{spec}[10:59]", fds) == 50
    assert np.array_equal(read_rows(f"{spec}[10:59]", fds, 5, 15), read_rows(spec, fds)[15:25])
    np.testing.assert_allclose(read_rows(f"{spec}[10:59]", fds), src["Sp0_r0.seg"][10:60], rtol=1e-5, atol=1e-5)
    with pytest.raises(ArkReadError, match=r"past the matrix's end"):
        read_rows(f"{spec}[100:130]", fds)


def test_packed_reads_name_the_entry_once(tmp_path):
    """read_packed's errors: a row range past the end keeps its own message (not wrapped again), and a
    truncated ark names the entry, the ark's size and the fix, as read_rows does."""
    m = (np.random.default_rng(0).standard_normal((60, 13)) * 4).astype(np.float32)
    kaldiio.save_ark(str(tmp_path / "a.ark"), {"u": m}, scp=str(tmp_path / "a.scp"), compression_method=2)
    spec = read_dict(tmp_path / "a.scp")["u"]
    assert read_packed(f"{spec}[10:19]", {})[0].shape == (13, 10)  # (freq, time) bytes of rows 10..19
    with pytest.raises(ArkReadError, match=r"past the matrix's end") as e:
        read_packed(f"{spec}[50:70]", {})
    assert "no readable matrix" not in str(e.value)
    ark = tmp_path / "a.ark"
    ark.write_bytes(ark.read_bytes()[:-200])
    with pytest.raises(ArkReadError, match=r"no readable matrix there .* bytes\); the scp and its ark disagree \(rerun"):
        read_packed(spec, {})


def test_reference_egs_refuse_changed_features(tmp_path):
    feature_dir(tmp_path / "data")
    assert make(tmp_path / "data", tmp_path / "egs", "kaldi_ref") == 0
    ds = EgsDataset(tmp_path / "egs" / "train")
    assert ds.table.dtype == np.int64 and len(ds.arks) == 2  # the features' ark and the copies' ark
    x, _ = ds[(3, 50, 7)]
    assert x.shape == (50, 40)
    ark = tmp_path / "data" / "raw.ark"
    data = bytearray(ark.read_bytes())
    data[-1] ^= 0xFF  # features re-extracted in place: same size, other bytes
    ark.write_bytes(bytes(data))
    with pytest.raises(DataDirError, match="row ranges of .*raw.ark, which changed since"):
        EgsDataset(tmp_path / "egs" / "train")
    ark.unlink()
    with pytest.raises(DataDirError, match="cannot be read"):
        EgsDataset(tmp_path / "egs" / "train")


def test_uncompressed_features_and_vad_fall_back_to_what_works(tmp_path, capsys):
    src = feature_dir(tmp_path / "data", compression=None)
    assert make(tmp_path / "data", tmp_path / "cmp", "kaldi_cmp") == 0  # FM source: copied and compressed
    assert json.loads((tmp_path / "cmp" / "train" / "egs.json").read_text())["stored"]["cut"] == 0
    assert make(tmp_path / "data", tmp_path / "ref", "kaldi_ref") == 0  # FM source: row ranges too
    ds = EgsDataset(tmp_path / "ref" / "train")
    row = read_dict(tmp_path / "ref" / "train" / "egs2src", 2, 2)[ds.keys[0].decode()].split()
    if len(src[row[0]]) >= 100:
        assert np.array_equal(ds[(0, 0, 0)][0].numpy(), src[row[0]][int(row[1]) : int(row[1]) + 100])


@pytest.mark.parametrize(
    "text, message",
    [
        ("b 1\na 2\n", ":2: not sorted"),
        ("a 1\na 2\n", ":2: duplicate key"),
        ("a 1 2\n", ":1: expected"),
        ("a 1\r\n", ":1: expected"),
        ("a 1", ":1: expected"),
    ],
)
def test_read_pairs_names_the_line(tmp_path, text, message):
    (tmp_path / "t").write_text(text, newline="")
    with pytest.raises(DataDirError, match=message):
        read_pairs(tmp_path / "t")
    (tmp_path / "u").write_text("a 1\nb 2\n")
    assert read_pairs(tmp_path / "u") == (["a", "b"], ["1", "2"])


def test_packed_crops_decode_to_the_same_batch(tmp_path):
    from torch.utils.data import DataLoader

    from datasets.loader import CropBatchSampler, PackedBatch, collate

    feature_dir(tmp_path / "data")
    assert make(tmp_path / "data", tmp_path / "egs", "kaldi_ref") == 0
    plain, packed = EgsDataset(tmp_path / "egs" / "train"), EgsDataset(tmp_path / "egs" / "train", packed=True)
    assert plain.feat_dim() == 40
    batches = [
        [b for b in DataLoader(ds, batch_sampler=CropBatchSampler(len(ds), 8, 60, 90, seed=3), collate_fn=collate)]
        for ds in (plain, packed)
    ]
    for (x, y), (px, py) in zip(*batches):
        assert isinstance(px, PackedBatch) and px.data.dtype == torch.uint8 and len(px) == len(x)
        got = px.to("cpu")
        assert got.shape == x.shape and got.is_contiguous() and torch.equal(y, py)
        torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)
    mixed = collate([packed[(0, 50, 1)], plain[(1, 50, 1)]])[0]  # one packed item, one plain: decoded here
    torch.testing.assert_close(mixed[0], plain[(0, 50, 1)][0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("compress", ["true", "false"])
def test_split_trials_dir_copies_matrices_byte_for_byte(tmp_path, compress, capsys):
    from steps import split_trials_dir

    src = feature_dir(tmp_path / "data")
    keys = sorted(src)
    (tmp_path / "data" / "trials").write_text(f"{keys[0]} {keys[1]} target\n{keys[2]} {keys[9]} nontarget\n")
    out = tmp_path / "data" / "trials_dir"
    assert split_trials_dir.main(["--data-dir", str(tmp_path / "data"), "--out-dir", str(out), "--compress", compress]) == 0
    copied = dict(kaldiio.load_scp_sequential(str(out / "feats.scp")))
    assert sorted(copied) == sorted([keys[0], keys[1], keys[2], keys[9]])
    assert all(np.array_equal(copied[u], src[u]) for u in copied)  # CM source: exact either way
    line = capsys.readouterr().out
    assert ("4 copied byte for byte, 0 decoded" if compress == "true" else "0 copied byte for byte, 4 decoded") in line
    blob = (out / "feats.ark").read_bytes()
    assert (blob.count(b"\0BCM ") == 4) == (compress == "true")


def test_split_trials_dir_names_a_truncated_ark(tmp_path, capsys):
    from steps import split_trials_dir

    src = feature_dir(tmp_path / "data")
    keys = sorted(src)
    (tmp_path / "data" / "trials").write_text(f"{keys[0]} {keys[-1]} nontarget\n")
    ark = tmp_path / "data" / "raw.ark"
    ark.write_bytes(ark.read_bytes()[:-500])  # the last matrix loses its end
    out = tmp_path / "data" / "trials_dir"
    assert split_trials_dir.main(["--data-dir", str(tmp_path / "data"), "--out-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{ark}:" in err and "the scp and its ark disagree" in err
    assert not list(out.glob("*.tmp")) and not (out / "feats.ark").exists()


@pytest.mark.parametrize("bad, where", [("a 1\r\nb 2\n", ":1:"), ("a 1\n\nb 2\n", ":2:"), ("a 1\nb 2", ":2:")])
def test_split_and_combine_name_the_bad_line(tmp_path, bad, where):
    from datasets.split import combine_data_dirs, split_data

    d = tmp_path / "d"
    d.mkdir()
    (d / "utt2spk").write_text("a s1\nb s2\n")
    (d / "spk2utt").write_text("s1 a\ns2 b\n")
    (d / "wav.scp").write_text(bad, newline="")
    with pytest.raises(DataDirError, match=f"wav.scp{where}"):
        split_data(d, 2)
    with pytest.raises(DataDirError, match=f"wav.scp{where}"):
        combine_data_dirs(tmp_path / "c", [d])
    (d / "wav.scp").write_text("b 2\na 1\n")
    with pytest.raises(DataDirError, match="wav.scp:2: not sorted"):
        combine_data_dirs(tmp_path / "c", [d])


def test_split_routes_lines_whatever_their_order_and_blanks(tmp_path):
    from datasets.split import split_data, subset_data_dir

    d = tmp_path / "d"
    d.mkdir()
    utts = [f"s{s}-u{u}" for s in range(4) for u in range(3)]
    (d / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in utts))
    (d / "spk2utt").write_text("".join(f"s{s} " + " ".join(u for u in utts if u[:2] == f"s{s}") + "\n" for s in range(4)))
    (d / "wav.scp").write_text("".join(f"{u} /w/{u}.wav\n" for u in ["a-extra"] + utts))  # a key of no part first
    (d / "feats.scp").write_text("".join(f"{u} f.ark:{i}\n" for i, u in enumerate(utts) if u != "s1-u1"))  # one gone
    (d / "text").write_text("".join(f"{u}   some\twords  \n" for u in reversed(utts)))  # other order, odd blanks
    parts = split_data(d, 2)
    for p in parts:
        mine = (p / "utt2spk").read_text().split()[::2]
        assert (p / "wav.scp").read_text() == "".join(f"{u} /w/{u}.wav\n" for u in mine)
        assert (p / "feats.scp").read_text().split()[::2] == [u for u in mine if u != "s1-u1"]
        assert (p / "text").read_text() == "".join(f"{u} some\twords\n" for u in reversed(mine))
    assert sorted(u for p in parts for u in (p / "utt2spk").read_text().split()[::2]) == utts
    assert subset_data_dir(d, tmp_path / "sub", spks=["s2"]) == 3
    assert (tmp_path / "sub" / "wav.scp").read_text() == "".join(f"s2-u{u} /w/s2-u{u}.wav\n" for u in range(3))

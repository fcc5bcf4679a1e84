"""Nothing silently wrong, the second campaign (issue 29): cases of the same classes written after the
fixes of tests/test_silent_wrongs.py. Each one fails naming the file and line or entry, or is handled."""

import wave

import numpy as np
import pytest

from conftest import make_data_dir, run, write


def _dir(tmp_path, n_spk=2, per=3):
    return make_data_dir(tmp_path / "d", {f"s{s}-u{i}": f"s{s}" for s in range(n_spk) for i in range(per)})


def _first_wav(d):
    return d / "wav" / "s0-u0.wav"


def _silence(path):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(16000), f.writeframes(b"")


def _nan_sample(path):
    import soundfile as sf

    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    x[100] = np.nan
    sf.write(str(path), x, 16000, subtype="FLOAT")


def _past_the_end(d):
    utts = sorted((d / "utt2spk").read_text().split()[::2])
    write(d / "segments", "".join(f"{u} {u} {'0.1 9.0' if u == 's0-u0' else '0.0 0.4'}\n" for u in utts))


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda d: _silence(_first_wav(d)), "the first, s0-u0: 0 samples, shorter than one 320-sample window"),
        (lambda d: _nan_sample(_first_wav(d)), r"the first, s0-u0: non-finite features \(NaN/inf in the input\?\)"),
        (_past_the_end, "the first, s0-u0: .*segment 0.1-9.0 s is outside recording s0-u0"),
    ],
)
def test_a_failed_feature_job_gives_the_first_reason_on_the_terminal(tmp_path, spoil, reason):
    """Before, the terminal said only '1 of 6 utterances failed'; the reason was in the job's log."""
    d = _dir(tmp_path)
    spoil(d)
    p = run(["steps/make_spect.sh", "--nj", "1", str(d)])
    assert p.returncode == 1 and not (d / "feats.scp").exists()
    assert "1 of 6 utterances failed" in p.stderr
    import re

    assert re.search(reason, p.stderr), p.stderr


@pytest.mark.parametrize("offset", ["-40", " 7", "x12", ""])
def test_an_scp_offset_that_is_no_byte_offset_names_the_entry(offset):
    """A negative offset made make_egs fail with a bare '[Errno 22] Invalid argument'."""
    from datasets.ark_read import ArkReadError, read_rows, split_spec

    with pytest.raises(ArkReadError, match="not ark_path:offset with a byte offset >= 0"):
        split_spec(f"/x/f.ark:{offset}")
    with pytest.raises(ArkReadError, match=rf"f.ark:{offset}: not ark_path:offset"):
        read_rows(f"/x/f.ark:{offset}", {})


def test_make_egs_names_a_negative_offset(tmp_path):
    d = _dir(tmp_path)
    assert run(["steps/make_spect.sh", "--nj", "1", str(d)]).returncode == 0
    lines = (d / "feats.scp").read_text().splitlines()
    key, spec = lines[0].split()
    lines[0] = f"{key} {spec.rpartition(':')[0]}:-40"
    write(d / "feats.scp", "\n".join(lines) + "\n")
    egs = ["python", "-m", "steps.make_egs", "--data-dir", str(d), "--out-dir", str(tmp_path / "egs")]
    p = run([*egs, *"--out-set train --train --num-frames 20 --nj 1".split()])
    assert p.returncode == 1 and ".ark:-40: not ark_path:offset with a byte offset >= 0" in p.stderr, p.stderr
    assert "Errno" not in p.stderr and not (tmp_path / "egs" / "train").exists()


def test_spk2gender_is_checked_and_kept_in_step_by_fix_data_dir(tmp_path):
    """spk2gender was never read: a gender 'x' or a speaker it lacks validated, and fix_data_dir left the
    lines of speakers it dropped."""
    d = _dir(tmp_path, n_spk=3)
    write(d / "spk2gender", "s0 m\ns1 x\n")
    p = run(["utils/validate_data_dir.sh", "--no-feats", str(d)])
    assert p.returncode == 1
    assert "spk2gender:2: gender 'x' of 's1' is not m or f" in p.stderr
    assert "spk2gender: 1 speaker(s) of utt2spk missing, first 's2'" in p.stderr
    write(d / "spk2gender", "s0 m\ns1 f\n")  # s2 has no gender: dropped, as Kaldi's fix_data_dir does
    p = run(["utils/fix_data_dir.sh", str(d)])
    assert p.returncode == 0 and "s2" not in (d / "utt2spk").read_text(), p.stdout + p.stderr
    (d / "wav" / "s1-u0.wav").unlink()
    for u in ("s1-u1", "s1-u2"):
        (d / "wav" / f"{u}.wav").unlink()
    p = run(["utils/fix_data_dir.sh", str(d)])  # every wav of s1 gone: s1 leaves spk2gender too
    assert p.returncode == 0 and (d / "spk2gender").read_text() == "s0 m\n", p.stdout + p.stderr
    assert run(["utils/validate_data_dir.sh", "--no-feats", str(d)]).returncode == 0


def _embeddings(d, n=4):
    import kaldiio

    d.mkdir(parents=True)
    with kaldiio.WriteHelper(f"ark,scp:{d}/xvector.1.ark,{d}/xvector.scp") as w:
        for i in range(n):
            w(f"u{i}", np.full(8, i + 1.0, np.float32))
    return d


@pytest.mark.parametrize("spoil", ["truncate", "overwrite"])
def test_a_truncated_or_overwritten_embeddings_ark_names_the_scp_line(tmp_path, spoil):
    """steps.score read embeddings with kaldiio directly: a truncated ark gave a bare AssertionError
    traceback. Every kaldiio read of an scp (score, compute_vad, visual_gradient, VAD masks) is checked."""
    from datasets.ark_read import ArkReadError, read_scp
    from steps.score import load_embeddings

    d = _embeddings(tmp_path / "emb")
    assert [k for k, _ in read_scp(d / "xvector.scp")] == ["u0", "u1", "u2", "u3"]
    ark = d / "xvector.1.ark"
    data = ark.read_bytes()
    ark.write_bytes(data[: len(data) // 2] if spoil == "truncate" else b"garbage\n")
    line = 3 if spoil == "truncate" else 1
    with pytest.raises(ArkReadError, match=rf"xvector.scp:{line}: 'u{line - 1}' -> .*xvector.1.ark:\d+: no readable matrix"):
        load_embeddings(d)


def test_a_vad_entry_that_points_at_no_matrix_names_the_utterance(tmp_path):
    from datasets.ark_read import ArkReadError, load_entry

    d = _embeddings(tmp_path / "emb")
    (d / "xvector.1.ark").write_bytes(b"")
    with pytest.raises(ArkReadError, match=r"vad.scp: 'u0': .*xvector.1.ark:\d+: no readable matrix there .*has 0 bytes"):
        load_entry((d / "xvector.scp").read_text().split()[1], "vad.scp: 'u0'")


def test_a_key_twice_in_an_embeddings_scp_is_refused(tmp_path):
    """A repeated key in xvector.scp was read into a dict: the last entry won, with rc 0."""
    from datasets.ark_read import ArkReadError
    from steps.score import load_embeddings

    d = _embeddings(tmp_path / "emb")
    lines = (d / "xvector.scp").read_text().splitlines()
    write(d / "xvector.scp", "\n".join(lines + [f"u1 {lines[3].split()[1]}"]) + "\n")
    with pytest.raises(ArkReadError, match=r"xvector.scp:5: key 'u1' again \(first on line 2\)"):
        load_embeddings(d)


def test_read_scp_takes_tabs_as_kaldiio_does(tmp_path):
    from datasets.ark_read import read_scp

    d = _embeddings(tmp_path / "emb")
    write(d / "tabs.scp", (d / "xvector.scp").read_text().replace(" ", "\t"))
    assert [(k, float(v[0])) for k, v in read_scp(d / "tabs.scp")] == [("u0", 1.0), ("u1", 2.0), ("u2", 3.0), ("u3", 4.0)]

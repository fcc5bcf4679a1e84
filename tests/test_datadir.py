"""Data-dir validation and repair: every bad input names its file and line; fix repairs like Kaldi."""

import os
import shutil

import numpy as np
import pytest

from conftest import run, write
from datasets.audio import write_wav
from datasets.datadir import validate_data_dir
from datasets.fix_dir import fix_data_dir
from datasets.kaldi_files import DataDirError, read_table

UTTS = [("a-1", "a"), ("a-2", "a"), ("b-1", "b"), ("b-2", "b"), ("c-1", "c")]


@pytest.fixture
def ddir(tmp_path):
    """A valid data dir with 3 speakers, 5 utterances, real wavs, utt2num_frames and trials."""
    d = tmp_path / "data"
    for u, _ in UTTS:
        write_wav(tmp_path / "wav" / f"{u}.wav", np.zeros(1600))
    write(d / "wav.scp", "".join(f"{u} {tmp_path}/wav/{u}.wav\n" for u, _ in UTTS))
    write(d / "utt2spk", "".join(f"{u} {s}\n" for u, s in UTTS))
    write(d / "spk2utt", "a a-1 a-2\nb b-1 b-2\nc c-1\n")
    write(d / "utt2num_frames", "".join(f"{u} 100\n" for u, _ in UTTS))
    write(d / "trials", "a-1 a-2 target\na-1 b-1 nontarget\nb-2 c-1 nontarget\n")
    return d


def validate_sh(d, *flags):
    return run(["utils/validate_data_dir.sh", "--no-feats", *flags, str(d)])


def test_valid_dir_passes_script(ddir):
    p = validate_sh(ddir)
    assert p.returncode == 0, p.stderr
    assert "Successfully validated" in p.stdout


def edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    "case, mutate, expect",
    [
        (
            "unsorted",
            lambda d: write(d / "utt2num_frames", "a-2 100\na-1 100\nb-1 100\nb-2 100\nc-1 100\n"),
            "utt2num_frames:2: not sorted",
        ),
        (
            "duplicate",
            lambda d: write(d / "utt2spk", "a-1 a\na-1 a\na-2 a\nb-1 b\nb-2 b\nc-1 c\n"),
            "utt2spk:2: duplicate key 'a-1'",
        ),
        ("wav-not-in-utt2spk", lambda d: edit(d / "wav.scp", "c-1 ", "c-1 x\nc-9 ") or None, "wav.scp"),
        (
            "speaker-without-utts",
            lambda d: write(d / "spk2utt", "a a-1 a-2\nb b-1 b-2\nc c-1\nd\n"),
            "spk2utt:4: speaker 'd' has no utterances",
        ),
        ("missing-wav", lambda d: edit(d / "wav.scp", "/b-2.wav", "/nope.wav"), "wav.scp:4: wav file not found"),
        ("empty-file", lambda d: write(d / "utt2num_frames", ""), "utt2num_frames: file is empty"),
        ("crlf", lambda d: write(d / "utt2spk", "a-1 a\r\na-2 a\r\nb-1 b\r\nb-2 b\r\nc-1 c\r\n"), "utt2spk:1: CRLF line ending"),
        ("trailing-blank", lambda d: edit(d / "utt2spk", "b-1 b\n", "b-1 b \n"), "utt2spk:3: leading or trailing blanks"),
        ("trials-unknown-utt", lambda d: edit(d / "trials", "b-2 c-1", "b-2 z-9"), "trials:3: utterance 'z-9'"),
        ("trials-bad-label", lambda d: edit(d / "trials", "target\n", "yes\n"), "trials:1: label must be"),
        ("bad-frames", lambda d: edit(d / "utt2num_frames", "b-1 100", "b-1 x"), "utt2num_frames:3: expected a positive int"),
        (
            "spk-order",
            lambda d: (
                write(d / "utt2spk", "a-1 b\na-2 a\nb-1 b\nb-2 b\nc-1 c\n"),
                write(d / "spk2utt", "a a-2\nb a-1 b-1 b-2\nc c-1\n"),
            ),
            "utt2spk:1: utt2spk is not sorted by speaker",
        ),
    ],
)
def test_bad_input_named_with_file_and_line(ddir, case, mutate, expect):
    before = {f.name: f.read_bytes() for f in ddir.iterdir()}
    mutate(ddir)
    p = validate_sh(ddir)
    assert p.returncode == 1, (case, p.stdout)
    assert expect in p.stderr, (case, p.stderr)
    assert "NOT valid" in p.stderr
    changed = {f.name for f in ddir.iterdir() if before.get(f.name) != f.read_bytes()}
    assert len(changed) <= 2  # validation itself wrote nothing


def test_wav_in_scp_not_in_utt2spk_named(ddir):
    with open(ddir / "wav.scp", "a") as f:
        f.write(f"d-1 {ddir}/../wav/c-1.wav\n")
    problems = validate_data_dir(ddir)
    assert any("wav.scp:6: utterance 'd-1' is not in utt2spk" in p for p in problems), problems


def test_missing_utt2spk_and_spk2utt(ddir):
    (ddir / "spk2utt").unlink()
    assert any("spk2utt: missing" in p for p in validate_data_dir(ddir))
    (ddir / "utt2spk").unlink()
    assert any("utt2spk: missing" in p for p in validate_data_dir(ddir))


def test_feats_required_unless_no_feats(ddir):
    assert validate_data_dir(ddir, no_feats=True) == []
    assert any("feats.scp: missing" in p for p in validate_data_dir(ddir))


def test_fix_repairs_what_kaldi_repairs(ddir):
    # unsorted + duplicate + CRLF + trailing blank in utt2spk, an extra wav, a missing frame count
    write(ddir / "utt2spk", "b-1 b\r\na-1 a \na-1 a\na-2 a\nb-2 b\nc-1 c\n")
    with open(ddir / "wav.scp", "a") as f:
        f.write(f"z-1 {ddir}/../wav/c-1.wav\n")
    write(ddir / "utt2num_frames", "a-1 100\na-2 100\nb-1 100\nb-2 100\n")  # c-1 has no frames
    report = fix_data_dir(ddir)
    text = "\n".join(report)
    assert "utt2spk: rewrote, 4 lines, dropped 2" in text
    assert "wav.scp: rewrote, 4 lines, dropped 2" in text
    assert "spk2utt: rewrote, 2 lines, dropped 1" in text  # speaker c lost its only utterance
    assert "trials: rewrote, 2 lines, dropped 1" in text  # b-2 c-1 named a removed utterance
    assert validate_data_dir(ddir, no_feats=True) == []
    assert (ddir / ".backup" / "utt2spk").exists()
    assert [e.key for e in read_table(ddir / "utt2spk", 1, 1)] == ["a-1", "a-2", "b-1", "b-2"]


def test_fix_leaves_unchanged_files_alone(ddir):
    edit(ddir / "utt2num_frames", "c-1 100\n", "")
    for f in ddir.iterdir():
        os.utime(f, (1_000_000_000, 1_000_000_000))
    report = fix_data_dir(ddir)
    assert not any(r.startswith("utt2num_frames") for r in report)
    # utt2num_frames itself was already right for the new utterance set
    untouched = {f.name for f in ddir.iterdir() if f.is_file() and f.stat().st_mtime == 1_000_000_000}
    assert "utt2num_frames" in untouched
    assert {"utt2spk", "wav.scp", "spk2utt", "trials"}.isdisjoint(untouched)
    assert fix_data_dir(ddir) == ["nothing to change"]


def test_fix_script_reports_and_refuses_unfixable(ddir):
    p = run(["utils/fix_data_dir.sh", str(ddir)])
    assert p.returncode == 0 and "nothing to change" in p.stdout
    write(ddir / "utt2spk", "a-1 b\na-2 a\nb-1 b\nb-2 b\nc-1 c\n")
    before = (ddir / "wav.scp").read_bytes()
    p = run(["utils/fix_data_dir.sh", str(ddir)])
    assert p.returncode == 1 and "prefix utterance ids with the speaker id" in p.stderr
    assert (ddir / "wav.scp").read_bytes() == before


def test_fix_with_nothing_left_writes_nothing(ddir):
    write(ddir / "utt2num_frames", "x-1 100\n")
    before = {f.name: f.read_bytes() for f in ddir.iterdir() if f.is_file()}
    with pytest.raises(DataDirError, match="no utterance is present in every file"):
        fix_data_dir(ddir)
    assert before == {f.name: f.read_bytes() for f in ddir.iterdir() if f.is_file()}


def test_segments_keyed_wav_scp(ddir, tmp_path):
    shutil.move(str(ddir / "wav.scp"), str(tmp_path / "old.scp"))
    write(ddir / "wav.scp", f"rec1 {tmp_path}/wav/a-1.wav\n")
    write(ddir / "segments", "".join(f"{u} rec1 0.{i} 0.{i + 1}\n" for i, (u, _) in enumerate(UTTS)))
    assert validate_data_dir(ddir) == [] or validate_data_dir(ddir, no_feats=True) == []
    edit(ddir / "segments", "c-1 rec1", "c-1 rec2")
    assert any("segments:5: recording 'rec2' is not in wav.scp" in p for p in validate_data_dir(ddir, no_feats=True))
    fix_data_dir(ddir)
    assert "c-1" not in (ddir / "utt2spk").read_text()


def test_utt2spk_spk2utt_scripts(ddir):
    p = run(f"utils/utt2spk_to_spk2utt.pl {ddir}/utt2spk", check=True)
    assert p.stdout == (ddir / "spk2utt").read_text()
    p = run(f"utils/spk2utt_to_utt2spk.pl < {ddir}/spk2utt", check=True)
    assert p.stdout == (ddir / "utt2spk").read_text()


def test_sample_per_speaker_is_seeded_and_stratified():
    from datasets.split import sample_per_speaker

    u2s = {f"s{s}-u{u:02d}": f"s{s}" for s in range(4) for u in range(3 + s)}
    two = sample_per_speaker(u2s, 2, seed=7)
    assert two == sample_per_speaker(u2s, 2, seed=7) and two == sorted(two)
    assert sorted(u2s[u] for u in two) == ["s0", "s0", "s1", "s1", "s2", "s2", "s3", "s3"]
    assert two != sample_per_speaker(u2s, 2, seed=8) or two != sample_per_speaker(u2s, 2, seed=9)
    assert sample_per_speaker(u2s, 99, seed=7) == sorted(u2s)  # all when a speaker has fewer

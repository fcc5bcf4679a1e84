"""Nothing silently wrong (issue 29): duplicate YAML keys, non-finite and out-of-range floats, one
speaker, blanks in an scp path. Each case fails before any work, naming the key, file or line."""

import pytest

from conftest import ROOT, make_data_dir, run, write
from core.errors import ConfigError
from recipe.config import load_config


def test_r1_duplicate_yaml_keys_name_both_lines(tmp_path):
    cfg = write(tmp_path / "dup.yaml", (ROOT / "conf" / "demo_rescnn.yaml").read_text() + "train:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"key 'train' is given twice: at line \d+ and at line \d+"):
        load_config(cfg)
    inner = write(tmp_path / "inner.yaml", "model:\n  name: ResCNN\n  dropout: 0.1\n  dropout: 0.2\n")
    with pytest.raises(ConfigError, match="key 'dropout' is given twice: at line 3 and at line 4"):
        load_config(inner)
    with pytest.raises(ConfigError, match=r"--set train.passes is given twice \('train.passes=3' and 'train.passes=4'\)"):
        load_config(ROOT / "conf" / "demo_rescnn.yaml", ["train.passes=3", "train.passes=4"])


@pytest.mark.parametrize(
    "setting, message",
    [
        ("model.dropout=.nan", "model.dropout: nan is not a finite number"),
        ("loss.margin=.nan", "loss.margin: nan is not a finite number"),
        ("optim.lr=.inf", "optim.lr: inf is not a finite number"),
        ("optim.weight_decay=-.inf", "optim.weight_decay: -inf is not a finite number"),
        ("optim.betas=[0.9]", "optim.betas: expected 2 values, got 1"),
        ("optim.betas=[0.9, 1.0]", r"optim.betas\[1\]: 1.0 is out of range \(must be >= 0.0 and < 1.0\)"),
        ("optim.betas=[.nan, 0.99]", r"optim.betas\[0\]: nan is not a finite number"),
        ("optim.lr=1e-3", "YAML reads 1e-3 as a string: write it with a dot"),
    ],
)
def test_r2_non_finite_and_out_of_range_floats_are_refused(setting, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "conf" / "demo_rescnn.yaml", [setting])


def test_r2_finite_values_still_pass():
    cfg = load_config(ROOT / "conf" / "demo_rescnn.yaml", ["optim.betas=[0.8, 0.99]", "model.dropout=0.0"])
    assert cfg["optim"]["betas"] == [0.8, 0.99] and cfg["model"]["dropout"] == 0.0


def test_r6_one_speaker_is_refused_before_any_egs(tmp_path):
    d = make_data_dir(tmp_path / "one", {f"u{i}": "solo" for i in range(4)})
    p = run(["steps/make_spect.sh", "--nj", "1", str(d)])
    assert p.returncode == 0, p.stderr
    out = tmp_path / "egs"
    egs = ["python", "-m", "steps.make_egs", "--data-dir", str(d), "--out-dir", str(out)]
    p = run([*egs, *"--out-set train --train --num-frames 50 --nj 1".split()])
    assert p.returncode == 1 and "1 speaker(s); a speaker classifier needs at least 2" in p.stderr, p.stderr
    assert not (out / "train").exists()


def test_r7_blank_in_the_feature_dir_is_refused(tmp_path):
    d = make_data_dir(tmp_path / "d", {"u1": "a", "u2": "b"})
    p = run(["steps/make_spect.sh", "--nj", "1", str(d), str(tmp_path / "log"), str(tmp_path / "my feats")])
    assert p.returncode == 1 and "contains a blank" in p.stderr and "my feats" in p.stderr
    assert not (d / "feats.scp").exists()


def test_r3_a_failed_start_leaves_no_experiment_behind(tiny_egs, tmp_path):
    from conftest import train_args

    exp = tmp_path / "exp"
    args = [a if a != "model.embedding_dim=32" else "model.embedding_dim=0" for a in train_args(tiny_egs, exp)]
    p = run(args)
    assert p.returncode == 1 and "cannot train on a batch" in p.stderr and not exp.exists(), p.stderr[-1500:]
    bogus = write(tmp_path / "not_a_checkpoint.pt", "hello")
    p = run(train_args(tiny_egs, exp, f"train.init_from={bogus}"))
    assert p.returncode != 0 and not exp.exists(), p.stderr[-1500:]  # it failed after writing: undone
    assert "removed what this run wrote" in p.stderr
    p = run(train_args(tiny_egs, exp))  # the corrected command, with no manual clean-up
    assert p.returncode == 0 and (exp / "checkpoints" / "last.pt").exists(), p.stderr[-1500:]


def test_r4_r5_embedding_reader_checks_length_and_finiteness():
    import numpy as np
    from datasets.kaldi_files import DataDirError
    from datasets.loader import UtteranceLoader

    good = np.ones((50, 4), np.float32)
    assert sum(len(b) for b, _ in UtteranceLoader({"a": good}, {"a": 50})) == 1
    with pytest.raises(DataDirError, match="'a'.*50 frames but utt2num_frames says 40"):
        list(UtteranceLoader({"a": good}, {"a": 40}))  # a shorter declared length used to truncate silently
    bad = good.copy()
    bad[7, 2] = np.nan
    with pytest.raises(DataDirError, match="'a'.*non-finite value nan at frame 7, bin 2"):
        list(UtteranceLoader({"a": bad}, {"a": 50}))


def test_r4_r5_egs_are_never_cut_past_the_end_or_from_nan():
    import numpy as np
    from datasets.kaldi_files import DataDirError
    from steps.make_egs import check_matrix

    m = np.zeros((30, 4), np.float32)
    check_matrix("u", m, 30, "a.ark:9")
    with pytest.raises(DataDirError, match=r"'u' \(a.ark:9\): 30 frames, but utt2num_frames .* says 64"):
        check_matrix("u", m, 64, "a.ark:9")
    m[3, 1] = np.inf
    with pytest.raises(DataDirError, match="non-finite value inf at frame 3, bin 1"):
        check_matrix("u", m, 30, "a.ark:9")


def test_r5_score_refuses_a_nan_embedding(tmp_path):
    import kaldiio
    import numpy as np
    from datasets.kaldi_files import DataDirError
    from steps.score import load_embeddings

    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/xvector.ark,{tmp_path}/xvector.scp") as w:
        w("u1", np.ones(4, np.float32))
        w("u2", np.array([1, np.nan, 0, 0], np.float32))
    with pytest.raises(DataDirError, match="embedding of 'u2' has non-finite values"):
        load_embeddings(tmp_path)


def test_weak_embedding_tools_name_what_they_leave_out(tmp_path, capsys):
    import numpy as np
    from datasets.kaldi_files import DataDirError
    from recipe.evaluate import dir_loader
    import kaldiio

    d = tmp_path / "d"
    d.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{d}/f.ark,{d}/feats.scp") as w:
        for u in ("u1", "u2"):
            w(u, np.ones((20, 3), np.float32))
    write(d / "utt2spk", "u1 a\nu2 b\nu3 c\n")
    write(d / "utt2num_frames", "u1 20\nu2 20\nu3 20\n")
    loader = dir_loader(d)
    assert sorted(loader.lengths) == ["u1", "u2"]
    assert "1 utterance(s) of utt2spk have no features and are not embedded, first 'u3'" in capsys.readouterr().err
    write(d / "utt2num_frames", "u1 20\n")
    with pytest.raises(DataDirError, match="no length for 1 utterance.*'u2'"):
        dir_loader(d)


def test_weak_set_name_cannot_leave_the_embeddings_folder(tmp_path):
    p = run(
        [
            "python",
            "-m",
            "steps.extract_embeddings",
            "--exp-dir",
            str(tmp_path / "exp"),
            "--data-dir",
            str(tmp_path),
            "--set-name",
            "../..",
        ]
    )
    assert p.returncode == 1 and "want a plain name" in p.stderr and not (tmp_path / "exp").exists()


def test_weak_feature_dim_mismatch_names_the_entry():
    import numpy as np
    from datasets.kaldi_files import DataDirError
    from datasets.loader import UtteranceLoader

    with pytest.raises(DataDirError, match="'a'.*80-dim features, but the model takes 161"):
        list(UtteranceLoader({"a": np.zeros((30, 80), np.float32)}, {"a": 30}, dim=161))


def test_weak_scp_offset_past_the_end_names_the_entry(tmp_path):
    import kaldiio
    import numpy as np
    from datasets.ark_read import ArkReadError, read_rows

    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/f.ark,{tmp_path}/f.scp") as w:
        w("u1", np.ones((5, 3), np.float32))
    size = (tmp_path / "f.ark").stat().st_size
    assert read_rows((tmp_path / "f.scp").read_text().split()[1], {}).shape == (5, 3)
    with pytest.raises(ArkReadError, match=rf"f.ark:{size + 100}: no readable matrix there .*{size:,} bytes"):
        read_rows(f"{tmp_path}/f.ark:{size + 100}", {})


def test_weak_a_failed_checkpoint_write_names_the_path(tmp_path, monkeypatch):
    import torch
    from training.checkpoint import CheckpointError, save_checkpoint

    def full_disk(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file: unexpected pos")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match=r"last.pt: could not be written .*is the disk full"):
        save_checkpoint(tmp_path / "last.pt", {"x": 1})
    assert list(tmp_path.iterdir()) == []  # no temp file left


def test_weak_skipped_utterances_say_why_on_the_terminal(tmp_path):
    from conftest import make_wav

    wavs = {f"u{i}": make_wav(tmp_path / "wav" / f"u{i}.wav", seed=i) for i in range(5)}
    wavs["u5"] = make_wav(tmp_path / "wav" / "u5.wav", sr=8000, seed=5)
    d = make_data_dir(tmp_path / "d", {u: f"s{u[-1]}" for u in wavs}, wavs)
    p = run(["steps/make_spect.sh", "--nj", "1", "--max-fail-frac", "0.5", str(d)])
    assert p.returncode == 0, p.stderr
    assert "features for 5 of 6 utterances" in p.stderr and "u5: skipped: sample rate 8000 Hz differs" in p.stderr
    p = run(["utils/fix_data_dir.sh", str(d)])
    assert p.returncode == 0 and "u5" not in (d / "utt2spk").read_text(), p.stdout + p.stderr


def test_weak_fix_data_dir_drops_a_missing_wav_make_spect_sent_the_user_for(tmp_path):
    d = make_data_dir(tmp_path / "d", {f"u{i}": f"s{i}" for i in range(4)})
    (d / "wav" / "u2.wav").unlink()
    p = run(["steps/make_spect.sh", "--nj", "1", str(d)])
    assert p.returncode == 1 and "fix_data_dir" in p.stderr + p.stdout  # one of 4 (> 1 %) fails the job
    p = run(["utils/fix_data_dir.sh", str(d)])
    assert p.returncode == 0 and "1 recording(s) whose file does not exist are dropped, first 'u2'" in p.stderr
    assert "u2" not in (d / "utt2spk").read_text() and "u2" not in (d / "wav.scp").read_text()
    p = run(["steps/make_spect.sh", "--nj", "1", str(d)])
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize(
    "cmd, msg",
    [
        ("utils/run.pl; touch PWNED_CMD", "shell syntax"),
        ("utils/run.pl --x $(touch PWNED_CMD)", "shell syntax"),
        ("utils/no_such_runner.pl", "no runner 'utils/no_such_runner.pl'"),
    ],
)
def test_weak_a_job_runner_with_shell_syntax_is_refused_by_name(tmp_path, cmd, msg):
    d = make_data_dir(tmp_path / "d", {"u1": "a", "u2": "b"})
    p = run(["steps/make_spect.sh", "--nj", "1", "--cmd", cmd, str(d)])
    assert p.returncode == 1 and f"--cmd '{cmd}'" in p.stderr and msg in p.stderr, p.stderr
    assert not (d / "feats.scp").exists() and not list(ROOT.glob("PWNED_CMD")) and not list(tmp_path.rglob("PWNED_CMD"))

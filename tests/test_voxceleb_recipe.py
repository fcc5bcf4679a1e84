"""local/voxceleb.sh end to end on a fake VoxCeleb tree (issue 28): VoxCeleb1 wav/ with the official
lists, VoxCeleb2 dev aac/ (wav bytes behind an ffmpeg stand-in), a tiny model; Vox1-O/E/H table."""

import itertools
import os
import shutil
from pathlib import Path

import pytest

from conftest import run, tiny_configs, write
from datasets.kaldi_files import read_dict


def fake_tree(corpus: Path, root: Path) -> tuple[Path, Path]:
    """VoxCeleb1 (2 official test speakers, 2 dev) from the tiny test speakers, VoxCeleb2 dev from the
    8 training speakers; the three official lists (cleaned names)."""
    vox1, vox2 = root / "voxceleb1", root / "voxceleb2" / "dev"
    names = {"spk0009": "id10270", "spk0010": "id10271", "spk0011": "id10001", "spk0012": "id10002"}
    rel = {}
    for utt, wav in read_dict(corpus / "test" / "wav.scp").items():
        spk, video, n = utt.split("-")
        rel[utt] = f"{names[spk]}/v{video}/{n}.wav"
        (vox1 / "wav" / rel[utt]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, vox1 / "wav" / rel[utt])
    for utt, wav in read_dict(corpus / "train" / "wav.scp").items():
        spk, video, n = utt.split("-")
        dest = vox2 / "aac" / f"id0{spk[3:]}" / f"v{video}" / f"{n}.m4a"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, dest)
    test = [u for u in rel if rel[u].startswith(("id10270", "id10271"))]

    def pairs(utts):
        return "".join(f"{int(a[:7] == b[:7])} {rel[a]} {rel[b]}\n" for a, b in itertools.combinations(sorted(utts), 2))

    (vox1 / "veri_test2.txt").write_text(pairs(test))
    (vox1 / "list_test_all2.txt").write_text(pairs(rel))
    (vox1 / "list_test_hard2.txt").write_text(pairs([u for u in rel if u.startswith(("spk0009", "spk0011"))]))
    return vox1, vox2


@pytest.mark.slow
def test_voxceleb_recipe_on_a_fake_tree(tiny_corpus, tmp_path):
    vox1, vox2 = fake_tree(tiny_corpus, tmp_path)
    bindir = tmp_path / "bin"  # ffmpeg stand-in: the .m4a files hold wav bytes
    write(bindir / "ffmpeg", '#!/bin/bash\nwhile [ "$1" != -i ]; do shift; done\ncat "$2"\n').chmod(0o755)
    teacher, _ = tiny_configs(tmp_path)
    exp, data = tmp_path / "exp" / "tiny", tmp_path / "data" / "vox"
    roots = ["--vox1-root", str(vox1), "--vox2-root", str(vox2), "--data", str(data)]
    sizes = "--nj 2 --input-per-spks 16 --num-frames 120 --num-pairs 100".split()
    cmd = ["local/voxceleb.sh", *roots, "--config", str(teacher), "--exp-dir", str(exp), *sizes]
    p = run(cmd, env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert len(read_dict(data / "vox2_dev" / "utt2spk")) == 40 and (data / "all" / "trials_veri_test2").exists()
    table = (exp / "vox1_table.md").read_text()
    header, _, row = table.splitlines()[:3]
    assert "vox1-O-clean EER (%) / minDCF" in header and "vox1-E-clean" in header and "vox1-H-clean" in header
    assert row.startswith("| tiny | ") and "—" not in row and row.count(" / ") == 3
    assert table in p.stdout
    # without VoxCeleb2: VoxCeleb1 dev trains, test/ scores Vox1-O only (E and H pair dev speakers)
    p = run(["local/voxceleb.sh", "--vox1-root", str(vox1), "--data", str(tmp_path / "v1"), "--stop-stage", "1"])
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "v1" / "test" / "trials_veri_test2").exists() and not (tmp_path / "v1" / "all").exists()


def test_voxceleb_recipe_needs_its_root_and_lists(tmp_path):
    p = run(["local/voxceleb.sh"])
    assert p.returncode == 1 and "--vox1-root is required" in p.stderr
    (tmp_path / "wav").mkdir()
    p = run(["local/voxceleb.sh", "--vox1-root", str(tmp_path), "--stop-stage", "1"])
    assert p.returncode == 1 and f"no official list (veri_test2.txt, ...) in {tmp_path}" in p.stderr

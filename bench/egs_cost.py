"""What egs cost at VoxCeleb2 size: CPU time and disk per 1,000 egs of steps/make_egs.py, measured on
data dirs of 10 k and 100 k utterances, extrapolated to VoxCeleb2 dev (1,092,009 utterances, 5,994
speakers, 768 egs of 600 frames per speaker: 4,603,392 egs, as the paper).

    python bench/egs_cost.py [--sizes 10000,100000] [--nj 2] [--copy-size 10000]

The data dirs have VoxCeleb2's shape (182 utterances per speaker); their feats.scp entries point, in
turn, at 1,000 real Kaldi-compressed matrices of 300-1,500 frames in one ark, so a million-utterance
dir needs no million matrices on disk. Each size runs make_egs with the recipe's default storage
(kaldi_ref: row ranges of the features) in a child process; --copy-size also runs kaldi_cmp
(self-contained egs: compressed bytes cut per column) and kaldi (uncompressed copies) at that size.
The features' own disk size at VoxCeleb2 scale is computed from the bytes per frame of this ark and
VoxCeleb2 dev's 2,290 hours. Goal (issue 28): <= 2 CPU-hours and <= the features' disk size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from datasets.ark_io import AtomicArkWriter  # noqa: E402
from datasets.kaldi_files import read_dict  # noqa: E402

VOX2_UTTS, VOX2_SPKS, VOX2_HOURS, EGS_PER_SPK, FRAMES = 1_092_009, 5_994, 2_290, 768, 600
ROOT = Path(__file__).resolve().parents[1]
PEAK = (
    "import resource, sys\nfrom steps.make_egs import main\nrc = main(sys.argv[1:])\n"  # one run's peak RSS:
    "print('PEAK_RSS_KB', max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, "  # its own or
    "resource.RUSAGE_CHILDREN)), file=sys.stderr)\nsys.exit(rc)"
)  # its biggest job's


def write_matrices(d: Path, n: int = 1000) -> tuple[list[str], list[int], float]:
    """n compressed spectrogram-like matrices: (scp entries, frame counts, ark bytes per frame)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(300, 1501, size=n)
    with AtomicArkWriter(d / "src", compress=True) as w:
        for i, t in enumerate(lengths):
            w[f"m{i:05d}"] = (rng.standard_normal((int(t), 161)) * 2 + 5).astype(np.float32)
    specs = list(read_dict(d / "src.scp").values())
    return specs, [int(t) for t in lengths], (d / "src.ark").stat().st_size / int(lengths.sum())


def write_data_dir(d: Path, n_utts: int, specs: list[str], lengths: list[int]) -> None:
    """VoxCeleb2-shaped ids (idNNNNN/<recording>/NNNNN), 182 utterances per speaker."""
    d.mkdir(parents=True)
    n_spk = max(2, round(n_utts / (VOX2_UTTS / VOX2_SPKS)))
    utts = sorted(f"id{s % n_spk:05d}-r{i // 7:07d}-{i % 7:05d}" for s, i in zip(range(n_utts), range(n_utts)))
    pick = [i % len(specs) for i in range(n_utts)]
    with open(d / "feats.scp", "w") as f, open(d / "utt2num_frames", "w") as g, open(d / "utt2spk", "w") as h:
        for u, k in zip(utts, pick):
            f.write(f"{u} {specs[k]}\n")
            g.write(f"{u} {lengths[k]}\n")
            h.write(f"{u} {u.split('-')[0]}\n")


def run_make_egs(data: Path, out: Path, fmt: str, nj: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    cmd = [sys.executable, "-c", PEAK, "--data-dir", str(data), "--out-dir", str(out), "--out-set", "train", "--train"]
    cmd += ["--input-per-spks", str(EGS_PER_SPK), "--num-frames", str(FRAMES), "--num-valid", "0", "--nj", str(nj)]
    p = subprocess.run([*cmd, "--out-format", fmt], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"make_egs failed:\n{p.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = int(p.stderr.rsplit("PEAK_RSS_KB ", 1)[1])
    egs = sum(1 for _ in open(out / "train" / "feats.scp"))
    disk = sum(f.stat().st_size for f in (out / "train").iterdir() if f.is_file())
    return {
        "egs": egs,
        "wall": wall,
        "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "disk": disk,
        "rss": peak / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--copy-size", type=int, default=10000)
    p.add_argument("--nj", type=int, default=2)
    a = p.parse_args()
    vox2_egs = VOX2_SPKS * EGS_PER_SPK
    with tempfile.TemporaryDirectory() as tmp:
        specs, lengths, bytes_per_frame = write_matrices(Path(tmp))
        feat_disk = bytes_per_frame * VOX2_HOURS * 360_000
        print(
            f"features at VoxCeleb2 dev size: {bytes_per_frame:.1f} bytes per frame (this ark) x "
            f"{VOX2_HOURS:,} h = {feat_disk / 1e9:,.0f} GB"
        )
        print(
            f"{'utterances':>10} {'format':<10} {'egs':>9} {'wall s':>7} {'CPU s':>7} {'CPU s/1k egs':>12} "
            f"{'MB/1k egs':>9} {'peak MB':>8} | VoxCeleb2: {'CPU h':>6} {'disk GB':>8}"
        )
        runs = [(int(n), "kaldi_ref") for n in a.sizes.split(",")]
        runs += [(a.copy_size, fmt) for fmt in ("kaldi_cmp", "kaldi")] if a.copy_size else []
        per = {}
        for n, fmt in runs:
            data = Path(tmp) / f"data{n}"
            if not data.exists():
                write_data_dir(data, n, specs, lengths)
            r = run_make_egs(data, Path(tmp) / f"egs{n}_{fmt}", fmt, a.nj)
            per[(n, fmt)] = r["cpu"] / r["egs"]
            print(
                f"{n:>10,} {fmt:<10} {r['egs']:>9,} {r['wall']:>7.1f} {r['cpu']:>7.1f} {1000 * r['cpu'] / r['egs']:>12.3f} "
                f"{r['disk'] / r['egs'] * 1000 / 1e6:>9.2f} {r['rss']:>8.0f} | {'':>10} "
                f"{per[(n, fmt)] * vox2_egs / 3600:>6.2f} {r['disk'] / r['egs'] * vox2_egs / 1e9:>8.1f}"
            )
            for f in (Path(tmp) / f"egs{n}_{fmt}" / "train").glob("*.ark"):
                f.unlink()  # the copies' bytes are counted; free the disk
        sizes = sorted(n for n, fmt in per if fmt == "kaldi_ref")
        if len(sizes) > 1:
            print(
                f"CPU per eg at {sizes[-1]:,} / at {sizes[0]:,} utterances: "
                f"{per[(sizes[-1], 'kaldi_ref')] / per[(sizes[0], 'kaldi_ref')]:.2f} (1.00 = linear)"
            )
        print(
            f"VoxCeleb2 ({vox2_egs:,} egs) is extrapolated linearly per eg from each row; the features are "
            f"{feat_disk / 1e9:,.0f} GB"
        )


if __name__ == "__main__":
    main()

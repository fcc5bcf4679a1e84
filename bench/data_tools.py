"""Data tools at VoxCeleb2 size: wall time and peak resident memory of each Kaldi-style data-dir tool on
data dirs of 100 k and 1,092,009 utterances (VoxCeleb2 dev's count, 182 per speaker), and how each
grows from one size to the other (1.00 = linear).

    python bench/data_tools.py [--sizes 100000,1092009] [--pairs 20000] [--tools validate,fix,...]

Each data dir has wav.scp, utt2spk, spk2utt, utt2num_frames and a feats.scp whose entries point, in
turn, at 1,000 real Kaldi-compressed matrices (300-1,500 frames) in one ark, and a trials list of
--pairs pairs. The tools run as the recipe runs them (utils/*.sh, python -m steps.*), one at a time,
each on a fresh copy where it writes, --repeat times (the fastest run counts). Goal (issue 28): every tool <= 1.15x linear growth from 100 k
and <= 2 GB peak; split_trials_dir at VoxCeleb2 size <= 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.memory import run_peak  # noqa: E402
from datasets.ark_io import AtomicArkWriter  # noqa: E402
from datasets.kaldi_files import read_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PER_SPK = 1_092_009 / 5_994
TOOLS = {  # name -> command on data dir D (and a scratch dir S)
    "validate": "utils/validate_data_dir.sh {D}",
    "fix": "utils/fix_data_dir.sh {S}",
    "subset": "utils/subset_data_dir.sh --spk-list {D}/spk_half {D} {S}/sub",
    "split": "utils/split_data.sh {S} 8",
    "combine": "utils/combine_data.sh {S}/comb {D}",
    "split_trials_dir": "python -m steps.split_trials_dir --data-dir {D} --out-dir {S}/trials_dir --trials trials",
    "make_trials": "python -m steps.make_trials {pairs} {D} --out {S}/trials_new",
}


def matrices(d: Path, n: int = 1000) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(0)
    lengths = [int(t) for t in rng.integers(300, 1501, size=n)]
    with AtomicArkWriter(d / "src", compress=True) as w:
        for i, t in enumerate(lengths):
            w[f"m{i:05d}"] = (rng.standard_normal((t, 161)) * 2 + 5).astype(np.float32)
    return list(read_dict(d / "src.scp").values()), lengths


def data_dir(d: Path, n: int, specs: list[str], lengths: list[int], pairs: int) -> None:
    """VoxCeleb-shaped ids <spk>-<recording>-<n>, sorted; speakers of ~182 utterances."""
    d.mkdir(parents=True)
    n_spk = max(2, round(n / PER_SPK))
    utts = sorted(f"id{i % n_spk:05d}-r{i // 7:07d}-{i % 7:05d}" for i in range(n))
    files = {name: open(d / name, "w") for name in ("wav.scp", "utt2spk", "feats.scp", "utt2num_frames")}
    wavs = d.parent / "wav"  # 1,000 small files the wav.scp entries point at in turn (fix checks they exist)
    if not wavs.exists():
        wavs.mkdir()
        for i in range(1000):
            (wavs / f"w{i:04d}.wav").write_bytes(b"RIFF")
    for i, u in enumerate(utts):
        files["wav.scp"].write(f"{u} {wavs}/w{i % 1000:04d}.wav\n")
        files["utt2spk"].write(f"{u} {u.split('-')[0]}\n")
        files["feats.scp"].write(f"{u} {specs[i % len(specs)]}\n")
        files["utt2num_frames"].write(f"{u} {lengths[i % len(lengths)]}\n")
    for f in files.values():
        f.close()
    by_spk: dict[str, list[str]] = {}
    for u in utts:
        by_spk.setdefault(u.split("-")[0], []).append(u)
    with open(d / "spk2utt", "w") as f:
        for s in sorted(by_spk):
            f.write(f"{s} {' '.join(by_spk[s])}\n")
    (d / "spk_half").write_text("".join(f"{s}\n" for s in sorted(by_spk)[::2]))
    rng = np.random.default_rng(1)
    pairs_ = {(int(i), int(j)) for i, j in rng.integers(0, n, size=(pairs, 2)) if i != j}
    (d / "trials").write_text(
        "".join(f"{utts[i]} {utts[j]} {'target' if utts[i][:7] == utts[j][:7] else 'nontarget'}\n" for i, j in sorted(pairs_))
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1092009")
    p.add_argument("--pairs", type=int, default=20000)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    sizes, tools = [int(n) for n in a.sizes.split(",")], a.tools.split(",")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        specs, lengths = matrices(Path(tmp))
        for n in sizes:
            d, s = Path(tmp) / f"d{n}", Path(tmp) / f"s{n}"
            data_dir(d, n, specs, lengths, a.pairs)
            for tool in tools:
                runs = []
                for _ in range(a.repeat):  # the fastest of --repeat runs: load on the machine only slows
                    shutil.rmtree(s, ignore_errors=True)
                    shutil.copytree(d, s)  # a tool that writes works on a copy
                    runs.append(
                        run_peak(
                            TOOLS[tool].format(D=d, S=s, pairs=a.pairs), env=env, cwd=ROOT, stdout=open(Path(tmp) / "log", "w")
                        )
                    )
                r = min(runs, key=lambda x: x["wall"])
                if r["rc"] != 0:
                    print(f"{tool} failed at {n:,} utterances:\n{(Path(tmp) / 'log').read_text()[-2000:]}")
                res[(tool, n)] = r
                print(f"{tool:<17} {n:>10,} utts  {r['wall']:7.1f} s  peak {r['max_rss_gb'] * 1024:7.0f} MB", flush=True)
            shutil.rmtree(s, ignore_errors=True)
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        print(f"\ngrowth from {lo:,} to {hi:,} utterances ({hi / lo:.2f}x the data); 1.00 = linear")
        for tool in tools:
            r0, r1 = res[(tool, lo)], res[(tool, hi)]
            print(
                f"{tool:<17} time {r1['wall'] / r0['wall'] / (hi / lo):5.2f}x linear   peak "
                f"{r1['max_rss_gb'] / max(r0['max_rss_gb'], 1e-9) / (hi / lo):5.2f}x linear   "
                f"({r1['wall']:.1f} s, {r1['max_rss_gb'] * 1024:.0f} MB at {hi:,})"
            )


if __name__ == "__main__":
    main()

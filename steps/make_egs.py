"""Fixed-length training/validation egs from a feature data dir (GFA ``make_egs.py``, corrected).

    python datasets/make_egs.py --data-dir data/synth/train --out-dir data/synth/egs/spect \\
        --feat-type spect [--train] --input-per-spks 1024 --num-frames 600 --num-valid auto \\
        --feat-format kaldi --out-format kaldi|kaldi_cmp --out-set train --nj 4 [--seed 123456]
        [--short-policy tile|skip]

With --train: --input-per-spks chunks per speaker from its training utterances; without: one chunk
per held-out validation utterance (--num-valid per speaker, or auto: sized from the corpus, see
datasets/egs.py valid_counts; the same seeded split either way; the split is logged and in egs.json).
Writes <out-dir>/<out-set>/{feats.scp,utt2label,utt2spk,spk2utt,egs2src,egs.json} and the label
index <out-dir>/spk2label (written once; a later set must agree with it), and <out-dir>/feats.conf,
the feature options the data dir recorded (conf/feats.conf); egs.json names the source data dir. Jobs (--nj, by speaker)
write egs.JOB.{ark,scp} atomically and are skipped on a rerun when complete.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from datasets.ark_io import AtomicArkWriter, ark_identity, fingerprint, job_done, mark_done
from datasets.ark_read import cm_slice, load_entry, matrix_blob, matrix_kind, read_rows, split_spec
from core.atomic import atomic_write_bytes
from datasets.datadir import utt2spk_to_spk2utt
from datasets.egs import SHORT_POLICIES, cut, describe_split, label_index, plan_speaker_egs, split_valid
from datasets.kaldi_files import DataDirError, c_key, format_table, read_dict
from core.atomic import atomic_write_text
from core.parallel import pool_map
from recipe.evaluate import read_voiced
from core.cli import HelpFormatter
from core.allocator import tune_allocator
from core.errors import CLI_ERRORS, fail


OUT_FORMATS = ("kaldi_ref", "kaldi_cmp", "kaldi")


def check_matrix(utt: str, m: np.ndarray, declared: int, spec: str) -> None:
    """The matrix an eg is cut from has the length the plan used and finite values (DataDirError)."""
    if len(m) != declared:
        raise DataDirError(
            f"feats.scp entry {utt!r} ({spec}): {len(m)} frames, but utt2num_frames (or the VAD "
            f"count) says {declared}; egs would be cut past its end. Rerun steps/make_*.sh"
        )
    if not np.isfinite(m).all():
        t, f = np.argwhere(~np.isfinite(m))[0]
        raise DataDirError(
            f"feats.scp entry {utt!r} ({spec}): non-finite value {m[t, f]} at frame {t}, bin {f}; its egs would be NaN"
        )


class Source:
    """One source utterance of a job: its decoded (time, freq) matrix (voiced frames with VAD), checked, and
    how its egs can be stored without a copy (a row range of it, or its CM bytes cut per column)."""

    def __init__(self, utt: str, job: dict, fds: dict):
        self.spec = job["feats"][utt]
        self.mat = read_rows(self.spec, fds)  # (time, freq)
        if utt in job["vad"]:  # Kaldi select-voiced-frames: (voiced time, freq)
            self.mat = self.mat[load_entry(job["vad"][utt], f"vad.scp: {utt!r}") != 0]
        check_matrix(utt, self.mat, job["lengths"][utt], self.spec)
        kind = matrix_kind(self.spec, fds)
        whole = utt not in job["vad"] and len(self.mat) >= job["num_frames"]
        self.ref = whole and kind is not None and job["format"] == "kaldi_ref"
        self.blob = (
            matrix_blob(self.spec, fds)
            if whole and kind == "CM" and job["format"] == "kaldi_cmp" and "[" not in self.spec
            else None
        )

    def store(self, w: AtomicArkWriter, key: str, start: int, num_frames: int) -> str:
        """Write one eg; returns how: ``ref`` (a row range of the source), ``cut`` (CM bytes cut) or ``copy``."""
        if self.ref:
            path, offset, first, _ = split_spec(self.spec)
            w.put_reference(key, f"{path}:{offset}[{first + start}:{first + start + num_frames - 1}]")
            return "ref"
        if self.blob is not None:
            w.put_blob(key, cm_slice(self.blob, start, num_frames))
            return "cut"
        w[key] = cut(self.mat, start, num_frames).astype(np.float32)
        return "copy"


def plan_job(job: dict) -> tuple[list[tuple[str, str, int, str, int]], int]:
    """(eg key, speaker, label, source utterance, start) for every eg of one job, in C order per speaker,
    and the count of short utterances skipped."""
    out, skipped = [], 0
    for spk, label, spk_index, utts in job["speakers"]:
        rng = np.random.default_rng([job["seed"], spk_index, 1 if job["train"] else 2])
        if job["train"]:
            plan, skip = plan_speaker_egs(utts, job["lengths"], job["n_egs"], job["num_frames"], rng, job["short"])
            keys = [f"{spk}-eg{k:06d}" for k in range(len(plan))]
        else:
            plan, skip = [], 0
            for u in utts:
                p, s = plan_speaker_egs([u], job["lengths"], 1, job["num_frames"], rng, job["short"])
                plan, skip = plan + p, skip + s
            keys = [u for u, _ in plan]
        skipped += skip
        out += [(key, spk, label, utt, start) for key, (utt, start) in sorted(zip(keys, plan), key=lambda kv: c_key(kv[0]))]
    return out, skipped


def run_job(job: dict) -> dict:
    """Write one job's egs; returns its table rows and counts."""
    prefix, fp = job["prefix"], job["fingerprint"]
    meta = Path(f"{prefix}.rows.json")
    if job_done(prefix, fp) and meta.exists():
        return json.loads(meta.read_text())
    (rows, skipped), fds, how = plan_job(job), {}, {"ref": 0, "cut": 0, "copy": 0}
    with AtomicArkWriter(prefix, compress=job["format"] != "kaldi") as w:
        sources, speaker, refs = {}, None, set()
        for key, spk, _, utt, start in rows:
            if spk != speaker:  # a speaker's sources stay decoded while its egs are written
                sources, speaker = {}, spk
            if utt not in sources:
                sources[utt] = Source(utt, job, fds)
            how[sources[utt].store(w, key, start, job["num_frames"])] += 1
            if sources[utt].ref:
                refs.add(split_spec(sources[utt].spec)[0])
    for f in fds.values():
        f.close()
    result = {"rows": [list(r) for r in rows], "skipped": skipped, "how": how, "refs": sorted(refs)}
    atomic_write_text(meta, json.dumps(result))
    mark_done(prefix, fp, egs=len(rows))
    return result


def write_tables(out: Path, results: list[dict], nj: int) -> tuple[int, int]:
    rows = sorted((r for res in results for r in res["rows"]), key=lambda r: c_key(r[0]))
    scp = "".join((out / f"egs.{j}.scp").read_text() for j in range(1, nj + 1))
    atomic_write_text(out / "feats.scp", "".join(sorted(scp.splitlines(keepends=True), key=lambda s: c_key(s))))
    atomic_write_text(out / "utt2label", format_table((r[0], str(r[2])) for r in rows))
    atomic_write_text(out / "utt2spk", format_table((r[0], r[1]) for r in rows))
    s2u = utt2spk_to_spk2utt({r[0]: r[1] for r in rows})
    atomic_write_text(out / "spk2utt", format_table((s, " ".join(us)) for s, us in s2u.items()))
    atomic_write_text(out / "egs2src", format_table((r[0], r[3], str(r[4])) for r in rows))
    return len(rows), sum(res["skipped"] for res in results)


def check_label_index(path: Path, labels: dict[str, int]) -> None:
    """DataDirError when the label index on disk (an earlier set's) differs; write_records writes a new one."""
    if path.exists():
        old = {k: int(v) for k, v in read_dict(path).items()}
        if old != labels:
            raise DataDirError(
                f"{path}: the label index on disk differs from this data dir's speakers "
                f"({len(old)} vs {len(labels)} speakers); egs of both would disagree"
            )


def feature_record(d: Path, feat_type: str) -> bytes | None:
    """The data dir's recorded feature conf (steps/make_<type>.sh writes conf/feats.conf and
    conf/feat_type); a recorded type other than --feat-type is an error, none recorded a warning."""
    kind, conf = d / "conf" / "feat_type", d / "conf" / "feats.conf"
    if not kind.exists() or not conf.exists():
        print(
            f"make_egs: warning: {d} records no feature conf (conf/feats.conf, conf/feat_type); trusting --feat-type {feat_type}",
            file=sys.stderr,
        )
        return None
    if kind.read_text().strip() != feat_type:
        raise DataDirError(f"{kind}: features of type {kind.read_text().strip()!r}, but --feat-type is {feat_type!r}")
    return conf.read_bytes()


def load_inputs(d: Path) -> tuple[dict, dict, dict]:
    feats = read_dict(d / "feats.scp")
    if not feats:
        raise DataDirError(f"{d}/feats.scp: no features")
    if not (d / "utt2num_frames").exists():
        raise DataDirError(f"{d}/utt2num_frames: missing (extract with --write-utt2num-frames true)")
    lengths = {u: int(n) for u, n in read_dict(d / "utt2num_frames").items()}
    u2s = read_dict(d / "utt2spk")
    missing = [u for u in u2s if u not in feats or u not in lengths]
    if missing:
        raise DataDirError(
            f"{d}: {len(missing)} utterance(s) of utt2spk have no features/frame count, first "
            f"{missing[0]!r}; run utils/fix_data_dir.sh {d}"
        )
    return feats, lengths, u2s


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--out-set", required=True)
    p.add_argument("--feat-type", default="spect")
    p.add_argument("--train", action="store_true")
    p.add_argument("--input-per-spks", type=int, default=1024)
    p.add_argument("--num-frames", type=int, default=600)
    p.add_argument(
        "--num-valid",
        type=num_valid_arg,
        default=None,
        metavar="N|auto",
        help="utterances held out per speaker for validation; auto (default) sizes it from the corpus",
    )
    p.add_argument("--feat-format", default="kaldi", choices=["kaldi"])
    p.add_argument(
        "--out-format",
        default="kaldi_ref",
        choices=OUT_FORMATS,
        help="kaldi_ref: egs are row ranges of the feature arks (scp entries path:offset[first:last], "
        "no bytes copied); kaldi_cmp: self-contained compressed egs (CM bytes of compressed features "
        "cut, not re-encoded); kaldi: uncompressed copies. Egs that are no row range (VAD frames, tiled "
        "short utterances) are copied under kaldi_ref (compressed)",
    )
    p.add_argument("--nj", type=int, default=4)
    p.add_argument("--seed", type=int, default=123456)
    p.add_argument("--short-policy", default="tile", choices=SHORT_POLICIES)
    p.add_argument(
        "--vad",
        action="store_true",
        help="cut egs from the voiced frames of <data-dir>/vad.scp only (Kaldi select-voiced-frames; train with data.vad: true)",
    )
    return p


def num_valid_arg(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or auto, got {text!r}") from None


def voiced_lengths(d: Path, lengths: dict[str, int]) -> tuple[dict[str, int], dict[str, str]]:
    """(voiced frames per utterance, vad.scp entries of the utterances whose voiced frames are used);
    the jobs read those entries again rather than receive every mask."""
    masks = read_voiced(d, lengths, why="--vad asks for it")
    table = read_dict(d / "vad.scp")
    return {u: int(masks[u].sum()) if u in masks else n for u, n in lengths.items()}, {u: table[u] for u in masks}


def job_spec(a, out: Path, j: int, fp: str, speakers: list, feats: dict, lengths: dict, vad: dict) -> dict:
    """Job j's work, with only its own speakers' entries of the data dir's tables."""
    mine = {u for *_, utts in speakers for u in utts}
    return {
        "prefix": str(out / f"egs.{j + 1}"),
        "fingerprint": fp,
        "format": a.out_format,
        "seed": a.seed,
        "train": a.train,
        "n_egs": a.input_per_spks,
        "num_frames": a.num_frames,
        "short": a.short_policy,
        "feats": {u: feats[u] for u in mine},
        "lengths": {u: lengths[u] for u in mine},
        "vad": {u: vad[u] for u in mine if u in vad},
        "speakers": speakers,
    }


def stored_line(how: dict, refs: list) -> str:
    parts = [
        f"{how['ref']} as row ranges of {len(refs)} feature ark(s)" if how["ref"] else "",
        f"{how['cut']} cut from compressed features without re-encoding" if how["cut"] else "",
        f"{how['copy']} copied" + (" (VAD frames or tiled short utterances: no row range)" if how["ref"] else "")
        if how["copy"]
        else "",
    ]
    return "stored: " + ", ".join(p for p in parts if p)


def read_plan(a, d: Path) -> dict:
    """Everything the jobs need, checked before anything is written: tables, labels, the split, VAD lengths."""
    feats, lengths, u2s = load_inputs(d)
    labels = label_index(u2s.values())
    if len(labels) < 2:
        raise DataDirError(f"{d}/utt2spk: {len(labels)} speaker(s); a speaker classifier needs at least 2")
    train, valid = split_valid(utt2spk_to_spk2utt(u2s), a.num_valid, a.seed)
    chosen = train if a.train else valid
    split_line = describe_split(valid, lengths, a.num_valid)
    check_label_index(Path(a.out_dir) / "spk2label", labels)
    conf = feature_record(d, a.feat_type)
    lengths, vad = voiced_lengths(d, lengths) if a.vad else (lengths, {})
    speakers = [(s, labels[s], labels[s], chosen[s]) for s in labels if chosen.get(s)]
    return {
        "feats": feats,
        "lengths": lengths,
        "vad": vad,
        "speakers": speakers,
        "split": split_line,
        "conf": conf,
        "labels": labels,
    }


def write_records(a, d: Path, out: Path, plan: dict, params: dict, results: list) -> tuple[int, int, dict, list]:
    """egs tables, feats.conf / vad.conf beside them and egs.json; (egs, short skipped, how stored, arks)."""
    n, skipped = write_tables(out, results, a.nj)
    if not (labels := Path(a.out_dir) / "spk2label").exists():
        atomic_write_text(labels, format_table((s, str(i)) for s, i in plan["labels"].items()))
    refs = sorted({p for res in results for p in res["refs"]})  # the feature arks the egs are row ranges of
    how = {k: sum(res["how"][k] for res in results) for k in ("ref", "cut", "copy")}
    if plan["conf"] is not None:
        atomic_write_bytes(Path(a.out_dir) / "feats.conf", plan["conf"])
    if a.vad and (d / "conf" / "vad.conf").exists():  # the VAD options, for embedding raw audio the same way
        atomic_write_bytes(Path(a.out_dir) / "vad.conf", (d / "conf" / "vad.conf").read_bytes())
    record = {
        **params,
        "data_dir": str(d.resolve()),
        "egs": n,
        "speakers": len(plan["speakers"]),
        "short_utterances_skipped": skipped,
        "split": plan["split"],
        "stored": how,
        "references": {p: ark_identity(p) for p in refs},
    }
    atomic_write_text(out / "egs.json", json.dumps(record, indent=1) + "\n")
    return n, skipped, how, refs


def main(argv: list[str] | None = None) -> int:
    tune_allocator("heap")  # small numpy blocks: the heap reuses them without page faults (core/allocator.py)
    a = build_parser().parse_args(argv)
    if a.nj < 1 or a.input_per_spks < 1 or a.num_frames < 1 or (a.num_valid is not None and a.num_valid < 0):
        print("make_egs: error: --nj, --input-per-spks and --num-frames must be positive, --num-valid >= 0", file=sys.stderr)
        return 1
    d, out = Path(a.data_dir), Path(a.out_dir) / a.out_set
    made = [p for p in (Path(a.out_dir), out) if not p.exists()]
    try:
        plan = read_plan(a, d)
        out.mkdir(parents=True, exist_ok=True)
        params = {k: v for k, v in vars(a).items() if k not in ("nj", "out_dir", "data_dir")}
        inputs = [d / "feats.scp", d / "utt2spk", d / "utt2num_frames"] + ([d / "vad.scp"] if a.vad else [])
        fp = fingerprint(inputs, nj=a.nj, job_result=2, **params)  # job_result: what a finished job's rows.json holds
        speakers = plan["speakers"]
        jobs = [job_spec(a, out, j, fp, speakers[j :: a.nj], plan["feats"], plan["lengths"], plan["vad"]) for j in range(a.nj)]
        results = pool_map(run_job, jobs, a.nj)  # a bad matrix, or a full disk (the writer names the file)
    except CLI_ERRORS as e:
        for p in reversed(made):  # the dirs this run made, when no job finished in them (finished jobs are kept to resume)
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        return fail("make_egs", e)
    n, skipped, how, refs = write_records(a, d, out, plan, params, results)
    print(f"make_egs: {plan['split']}")
    print(
        f"make_egs: {out}: {n} egs of {a.num_frames} frames from {len(speakers)} speakers "
        f"({'train' if a.train else 'valid'}); {skipped} short utterance(s) skipped; {stored_line(how, refs)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

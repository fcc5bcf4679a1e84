"""Insertion / deletion results of steps.insdel: curves, AUCs, the markdown table and the plots.

Every file is written whole through a temp file (core.atomic): curves.csv / curves.json (mean
top-1 / top-5 accuracy per proportion), auc.csv, results.md (one table per level and fill, ranked,
beside the AUCs published in the GFA README) and plots/{insert,delete}_<level>_<fill>.{png,pdf};
insert.png / delete.png are the paper's setting (points, time-mean fill) when it was run.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from core.atomic import atomic_path, atomic_write_bytes
from core.atomic import atomic_write_text
from gradients.faithfulness import PUBLISHED, auc, bootstrap_auc, paired_auc_difference
from core.errors import UsageError


def aggregate(records: dict, grids: dict) -> dict:
    """(name, level, fill, mode) -> {"top1": mean curve, "top5": mean curve, "n": utterances, "hits1":
    (utterances, proportions) top-1 of each utterance}."""
    per: dict[tuple, tuple[list, list, list]] = {}
    for utt, rec in records.items():
        for key, (t1, t5) in rec["curves"].items():
            k = tuple(key.split("|"))
            one, five, utts = per.setdefault(k, ([], [], []))
            one.append(np.frombuffer(t1.encode(), np.uint8) - 48)  # "0101" -> [0, 1, 0, 1]
            five.append(np.frombuffer(t5.encode(), np.uint8) - 48)
            utts.append(utt)
    out = {}
    for k, (one, five, utts) in per.items():
        if len(one[0]) != len(grids[k[3]]):
            raise UsageError(f"progress records of {k} have {len(one[0])} points for a {len(grids[k[3]])}-point grid")
        h1, h5 = np.stack(one), np.stack(five)  # (utterances, proportions)
        out[k] = {"top1": h1.mean(0), "top5": h5.mean(0), "n": len(h1), "hits1": h1, "utts": utts}
    return out


def auc_rows(curves: dict, grids: dict) -> list[dict]:
    """One row per (method, level, fill): top-1 / top-5 AUCs and the top-1 AUC's 95 % bootstrap
    interval over utterances."""
    rows: dict[tuple, dict] = {}
    for (name, level, fill, mode), c in curves.items():
        r = rows.setdefault((name, level, fill), {"method": name, "level": level, "fill": fill, "utterances": c["n"]})
        for score in ("top1", "top5"):
            r[f"{mode}_auc_{score}"] = round(auc(grids[mode], c[score]), 4)
        lo, hi = bootstrap_auc(c["hits1"], grids[mode])
        r[f"{mode}_auc_top1_lo"], r[f"{mode}_auc_top1_hi"] = round(lo, 4), round(hi, 4)
    return sorted(rows.values(), key=lambda r: (r["level"], r["fill"], -r.get("insertion_auc_top1", 0)))


def paired_rows(curves: dict, rows: list[dict], grids: dict) -> list[dict]:
    """Paired top-1 AUC differences with a 95 % bootstrap over the shared utterances, per (level, fill,
    mode): each method against the next one in that mode's ranking (is the order resolved?) and
    against 'random' where it was run."""
    out = []
    for level, fill in sorted({(r["level"], r["fill"]) for r in rows}):
        part = [r for r in rows if (r["level"], r["fill"]) == (level, fill)]
        for mode in grids:
            ranked = sorted(part, key=lambda r: r[f"{mode}_auc_top1"], reverse=mode == "insertion")
            names = [r["method"] for r in ranked]
            pairs = list(zip(names, names[1:])) + [(m, "random") for m in names if "random" in names and m != "random"]
            for a, b in dict.fromkeys(pairs):
                ca, cb = curves[(a, level, fill, mode)], curves[(b, level, fill, mode)]
                common = sorted(set(ca["utts"]) & set(cb["utts"]))
                ia, ib = ({u: i for i, u in enumerate(c["utts"])} for c in (ca, cb))
                d, lo, hi = paired_auc_difference(
                    ca["hits1"][[ia[u] for u in common]], cb["hits1"][[ib[u] for u in common]], grids[mode]
                )
                out.append(
                    {
                        "level": level,
                        "fill": fill,
                        "mode": mode,
                        "a": a,
                        "b": b,
                        "utterances": len(common),
                        "auc_diff": round(d, 4),
                        "lo": round(lo, 4),
                        "hi": round(hi, 4),
                    }
                )
    return out


def paired_markdown(pairs: list[dict]) -> list[str]:
    lines = [
        "## Paired differences",
        "",
        "Top-1 AUC of A minus B on the same utterances, [95 % paired bootstrap over "
        "utterances]; insertion: positive favours A, deletion: negative favours A. An interval that holds 0 "
        "means the two methods' order is not resolved by these utterances.",
        "",
        "| level | fill | mode | A | B | utterances | Δ AUC | interval |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['level']} | {p['fill']} | {p['mode']} | {p['a']} | {p['b']} | {p['utterances']} | "
        f"{p['auc_diff']:+.4f} | [{p['lo']:+.4f}, {p['hi']:+.4f}] |"
        for p in pairs
    ]
    return lines + [""]


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _rank(values: list[float], reverse: bool) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=reverse)
    r = [0] * len(values)
    for pos, i in enumerate(order):
        r[i] = pos + 1
    return r


def markdown(rows: list[dict], exp_name: str, a) -> str:
    lines = [
        f"# Insertion / deletion: {exp_name}",
        "",
        f"Top-1 closed-set speaker-ID accuracy of the teacher, AUC = trapezoid over the grid; "
        f"{rows[0]['utterances']} utterances; points ranked by the {a.point_value} map"
        f"{f', smoothed {a.smooth} x {a.smooth}' if a.smooth > 1 else ''}; rows by each method's per-bin "
        "weight vector; [95 % bootstrap interval over utterances]. Published: the GFA README's figures (VoxCeleb2 ThinResNet34, points, time-mean fill; "
        "not this model or corpus).",
        "",
    ]
    for level, fill in sorted({(r["level"], r["fill"]) for r in rows}):
        part = [r for r in rows if (r["level"], r["fill"]) == (level, fill)]
        ins = [r["insertion_auc_top1"] for r in part]
        dele = [r["deletion_auc_top1"] for r in part]
        lines += [
            f"## {level}, fill {fill}",
            "",
            "| method | insertion AUC ↑ | rank | deletion AUC ↓ | rank | published ins. | published del. |",
            "|---|---|---|---|---|---|---|",
        ]
        for r, ri, rd in zip(part, _rank(ins, True), _rank(dele, False)):
            pub = PUBLISHED.get(r["method"])
            ci = {m: f"[{r[f'{m}_auc_top1_lo']:.3f}, {r[f'{m}_auc_top1_hi']:.3f}]" for m in ("insertion", "deletion")}
            lines.append(
                f"| {r['method']} | {r['insertion_auc_top1']:.4f} {ci['insertion']} | {ri} | "
                f"{r['deletion_auc_top1']:.4f} {ci['deletion']} | {rd} | "
                f"{f'{pub[0]:.4f}' if pub else '–'} | {f'{pub[1]:.4f}' if pub else '–'} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(out: Path, curves: dict, grids: dict, rows: list[dict], level: str, fill: str, mode: str, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    part = sorted(
        (r for r in rows if (r["level"], r["fill"]) == (level, fill)),
        key=lambda r: r[f"{mode}_auc_top1"],
        reverse=mode == "insertion",
    )
    for i, r in enumerate(part):
        c = curves[(r["method"], level, fill, mode)]["top1"]
        style = (
            {"color": "k", "ls": "--" if r["method"] == "random" else ":"}
            if r["method"] in ("random", "oracle")
            else {"color": plt.cm.tab20(i % 20)}
        )  # 20 distinct colours: up to 14 methods here
        ax.plot(grids[mode], c, label=f"{r['method']} ({r[f'{mode}_auc_top1']:.3f})", lw=1.3, **style)
    ax.set_xlabel(
        f"proportion of {'points' if level == 'points' else 'frequency rows'} {'inserted' if mode == 'insertion' else 'deleted'}"
    )
    ax.set_ylabel("top-1 speaker-ID accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{mode}: {name}, {level}, fill {fill}", fontsize=9)
    ax.legend(fontsize=7, title="method (AUC)", title_fontsize=7, loc="lower right" if mode == "insertion" else "upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{'insert' if mode == 'insertion' else 'delete'}_{level}_{fill}"
    for ext in ("png", "pdf"):
        with atomic_path(out / f"{stem}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=130)
    plt.close(fig)


def write_report(out: Path, records: dict, grids: dict, name: str, a) -> str:
    curves = aggregate(records, grids)
    rows = auc_rows(curves, grids)
    table = [
        {
            "method": k[0],
            "level": k[1],
            "fill": k[2],
            "mode": k[3],
            "p": float(p),
            "top1": round(float(t1), 6),
            "top5": round(float(t5), 6),
            "utterances": c["n"],
        }
        for k, c in sorted(curves.items())
        for p, t1, t5 in zip(grids[k[3]], c["top1"], c["top5"])
    ]
    atomic_write_text(out / "curves.csv", _csv(table))
    atomic_write_text(out / "auc.csv", _csv(rows))
    atomic_write_text(
        out / "curves.json",
        json.dumps(
            {
                "grids": {m: list(map(float, g)) for m, g in grids.items()},
                "auc": rows,
                "settings": {k: v for k, v in vars(a).items()},
            },
            indent=1,
            default=str,
        )
        + "\n",
    )
    pairs = paired_rows(curves, rows, grids)
    atomic_write_text(out / "pairs.csv", _csv(pairs) if pairs else "")
    atomic_write_text(out / "results.md", markdown(rows, name, a) + "\n" + "\n".join(paired_markdown(pairs)) + "\n")
    for level, fill in sorted({(r["level"], r["fill"]) for r in rows}):
        for mode in grids:
            plot(out / "plots", curves, grids, rows, level, fill, mode, name)
    if any((r["level"], r["fill"]) == ("points", "time_mean") for r in rows):
        for stem in ("insert", "delete"):  # the paper's setting under the paper's file names
            atomic_write_bytes(out / "plots" / f"{stem}.png", (out / "plots" / f"{stem}_points_time_mean.png").read_bytes())
    return f"{len(rows)} (method, level, fill) rows -> {out}/results.md"

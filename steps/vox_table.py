"""The Vox1-O/E/H table of a scored experiment, laid out as WeSpeaker's VoxCeleb results.

    python -m steps.vox_table --exp-dir exp/rescnn [--out exp/rescnn/vox1_table.md]

Reads <exp>/scores/*.json (steps.score) and names each official list by its trials file:
trials_veri_test2 (Vox1-O cleaned), trials_list_test_all2 (Vox1-E cleaned), trials_list_test_hard2
(Vox1-H cleaned), and the uncleaned veri_test / list_test_all / list_test_hard. One row per scoring
(cosine, AS-norm): EER (%) and minDCF (p=0.01) per list, with the model's parameters (body, without
the classification head) and MACs of 300 frames. A list that was not scored is an em dash; none at
all is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.atomic import atomic_write_text
from core.cli import HelpFormatter
from core.errors import CLI_ERRORS, NotFoundError, fail
from models.info import count_macs, count_params
from models.registry import build_model
from recipe.experiment import exp_prior, read_exp, with_prior

LISTS = {
    "veri_test2": "vox1-O-clean",
    "list_test_all2": "vox1-E-clean",
    "list_test_hard2": "vox1-H-clean",
    "veri_test": "vox1-O",
    "list_test_all": "vox1-E",
    "list_test_hard": "vox1-H",
}


def collect(scores: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """norm -> list label -> (EER %, minDCF 0.01) from the score files of the official lists."""
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for f in sorted(scores.glob("*.json")):
        s = json.loads(f.read_text())
        stem = Path(s["trials"]).name.removeprefix("trials_")
        if stem in LISTS:
            rows.setdefault(s["norm"], {})[LISTS[stem]] = (100 * s["eer"]["value"], s["mindcf_0.01"]["value"])
    return rows


def table(name: str, params: int, macs: int, rows: dict) -> str:
    cols = [c for c in LISTS.values() if any(c in r for r in rows.values())]
    head = "| Model | Params | MACs (300 frames) | AS-Norm | " + " | ".join(f"{c} EER (%) / minDCF" for c in cols) + " |"
    lines = [head, "|" + "---|" * (4 + len(cols))]
    for norm, r in sorted(rows.items()):
        cells = [f"{r[c][0]:.3f} / {r[c][1]:.4f}" if c in r else "—" for c in cols]
        lines.append(
            f"| {name} | {params / 1e6:.2f} M | {macs / 1e9:.2f} G | {'√' if norm == 'asnorm' else '×'} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--out", default=None, help="default <exp>/vox1_table.md")
    a = p.parse_args(argv)
    exp = Path(a.exp_dir)
    try:
        rows = collect(exp / "scores")
        if not rows:
            raise NotFoundError(
                f"{exp}/scores: no score of an official VoxCeleb1 list (trials_{', trials_'.join(LISTS)}); "
                "run c_train.sh stage 3 on a test dir that prepare_voxceleb wrote"
            )
        cfg, inputs = read_exp(exp)
        model = build_model(with_prior(cfg["model"], exp_prior(exp, inputs)), cfg["data"]["feat_dim"])
    except CLI_ERRORS as e:
        return fail("vox_table", e)
    text = table(exp.name, count_params(model), count_macs(model, 300, cfg["data"]["feat_dim"]), rows)
    out = Path(a.out) if a.out else exp / "vox1_table.md"
    atomic_write_text(out, text)
    print(text, end="")
    print(f"vox_table: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

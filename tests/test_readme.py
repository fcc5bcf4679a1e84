"""README.md stays a front page, and its numbers are the ones the committed per-run figures give."""

from pathlib import Path

import pytest

from bench.seeds_table import readme_block, table

ROOT = Path(__file__).resolve().parents[1]


def test_seed_table_is_computed_from_the_committed_runs():
    text = (ROOT / "docs" / "training.md").read_text()
    a, b = readme_block(text, "docs/training.md")
    paths = sorted((ROOT / "bench" / "results").glob("seeds_*.csv"))
    assert paths and text[a:b] == table(paths)  # python -m bench.seeds_table --readme docs/training.md bench/results/seeds_*.csv


def test_earlier_seed_table_is_computed_from_its_runs():
    text = (ROOT / "docs" / "results.md").read_text()
    a, b = readme_block(text, "docs/results.md")
    paths = sorted((ROOT / "bench" / "results" / "earlier").glob("seeds_*.csv"))
    assert paths and text[a:b] == table(paths)


def test_readme_is_a_front_page_with_working_links():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    results = text.split("\n## Results\n")[1].split("\n## ")[0].strip().splitlines()
    assert 10 < len(results) <= 40  # the result section says what was found in at most 40 lines
    for link in [w.split(")")[0] for w in text.split("](")[1:]]:
        if not link.startswith("http"):
            assert (ROOT / link.split("#")[0]).exists(), link


@pytest.mark.parametrize(
    "block, folder, priors", [("prior_table", "prior_experiment", True), ("planted_table", "prior_planted", False)]
)
def test_readme_prior_tables_are_computed_from_the_committed_experiments(block, folder, priors):
    from bench.prior_readme import marks, table as prior_table

    text = (ROOT / "README.md").read_text()
    a, b = readme_block(text, "README.md", marks(block))
    # python -m bench.prior_readme --readme README.md --block BLOCK [--comparisons-only] bench/results/FOLDER
    assert text[a:b] == prior_table(ROOT / "bench" / "results" / folder, priors=priors)

"""README.md stays a front page, and its numbers are the ones the committed per-run figures give."""

from pathlib import Path

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
    for link in [w.split(")")[0] for w in text.split("](")[1:]]:
        if not link.startswith("http"):
            assert (ROOT / link.split("#")[0]).exists(), link


def test_readme_prior_table_is_computed_from_the_committed_experiment():
    from bench.prior_readme import MARKS, table as prior_table

    text = (ROOT / "README.md").read_text()
    a, b = readme_block(text, "README.md", MARKS)
    folder = ROOT / "bench" / "results" / "prior_experiment"
    assert text[a:b] == prior_table(folder)  # python -m bench.prior_readme --readme README.md bench/results/prior_experiment

"""Evaluation: verification metrics (EER, minDCF, AS-norm, DET points: ``metrics.py``), the statistics of
seeded comparisons (intervals, bootstraps, power: ``stats.py``) and the pre-declared comparisons of the
prior experiment (Holm over the primaries: ``comparisons.py``). Imports no other domain package."""

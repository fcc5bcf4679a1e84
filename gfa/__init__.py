"""gfa-sv as a library: ``from gfa import Experiment`` (gfa/experiment.py). The checkout's top-level
packages (datasets, models, ...) must be importable: run from the checkout, put it on sys.path or
PYTHONPATH, or load through torch.hub (hubconf.py)."""

from gfa.experiment import Experiment, pick_threshold

__all__ = ["Experiment", "pick_threshold"]

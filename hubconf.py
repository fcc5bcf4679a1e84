"""torch.hub entry points of a gfa-sv checkout:

    exp = torch.hub.load("/path/to/gfa-sv", "experiment", exp_dir="exp/demo_rescnn", source="local")

torch.hub puts the checkout on sys.path, so its packages import as they do from the repo root.
"""

dependencies = ["torch", "numpy", "kaldiio", "yaml", "scipy"]


def experiment(exp_dir, checkpoint: str = "auto", device: str = "cpu", dither_seed: int = 0):
    """A trained experiment dir as a gfa.Experiment (embed, verify, frequency_weights)."""
    from gfa import Experiment

    return Experiment.load(exp_dir, checkpoint, device, dither_seed)

"""Training plumbing: the loop (trainer), optimiser/scheduler registries (optim) and checkpoints."""

"""Plumbing shared by every package: the project's error base (core/errors.py). Imports nothing of the
project, so every package may import it."""

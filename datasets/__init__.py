"""Data-side libraries: Kaldi data dirs, wav I/O, corpus preparation, synthetic speakers.

This package shadows the Hugging Face ``datasets`` package for code run from the
repository root; nothing here depends on it.
"""

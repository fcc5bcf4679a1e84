"""Not a library module: the path the recipe's commands use (`python datasets/make_trials.py ...`).

It runs the entry point steps/make_trials.py (see its --help) as a script; nothing under datasets/ imports
steps/, and importing this module does nothing.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not datasets/
    runpy.run_module("steps.make_trials", run_name="__main__", alter_sys=True)

"""Not a library module: the path the recipe's commands use (`python datasets/split_trials_dir.py ...`).

It runs the entry point steps/split_trials_dir.py (see its --help) as a script; nothing under datasets/ imports
steps/, and importing this module does nothing.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not datasets/
    runpy.run_module("steps.split_trials_dir", run_name="__main__", alter_sys=True)

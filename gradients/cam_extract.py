"""Not a library module: the path the recipe's commands use (`python gradients/cam_extract.py ...`).

It runs the entry point steps/cam_extract.py (see its --help) as a script; nothing under gradients/ imports
steps/, and importing this module does nothing.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not gradients/
    runpy.run_module("steps.cam_extract", run_name="__main__", alter_sys=True)

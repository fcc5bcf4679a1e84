"""Not a library module: the path the recipe's commands use (`python gradients/visual_gradient.py ...`).

It runs the entry point steps/visual_gradient.py (see its --help) as a script; nothing under gradients/ imports
steps/, and importing this module does nothing.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not gradients/
    runpy.run_module("steps.visual_gradient", run_name="__main__", alter_sys=True)

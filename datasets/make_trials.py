"""Launcher kept at the path the recipe's commands use (`python datasets/make_trials.py ...`).

The tool itself is steps/make_trials.py (libraries in datasets/ parse no arguments); see its help.
"""
import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root, not datasets/
    from steps.make_trials import main
    sys.exit(main())

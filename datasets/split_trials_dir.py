"""Launcher kept at the path the recipe's commands use (`python datasets/split_trials_dir.py ...`).

The tool itself is steps/split_trials_dir.py (libraries in datasets/ parse no arguments); see its help.
"""
import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root, not datasets/
    from steps.split_trials_dir import main
    sys.exit(main())

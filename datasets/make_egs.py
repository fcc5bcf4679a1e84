"""Launcher kept at the path the recipe's commands use (`python datasets/make_egs.py ...`).

The tool itself is steps/make_egs.py (libraries in datasets/ parse no arguments); see its help.
"""
import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root, not datasets/
    from steps.make_egs import main
    sys.exit(main())

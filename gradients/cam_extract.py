"""Launcher kept at the path the recipe's commands use (`python gradients/cam_extract.py ...`).

The tool itself is steps/cam_extract.py (libraries in gradients/ parse no arguments); see its help.
"""
import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root, not gradients/
    from steps.cam_extract import main
    sys.exit(main())

"""Launcher kept at the path the recipe's commands use (`python gradients/visual_gradient.py ...`).

The tool itself is steps/visual_gradient.py (libraries in gradients/ parse no arguments); see its help.
"""
import os
import sys

if __name__ == "__main__":
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # repo root, not gradients/
    from steps.visual_gradient import main
    sys.exit(main())

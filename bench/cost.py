"""The cost bench's command: ``.venv/bin/python bench/cost.py``; the code is the bench/cost/ package."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: ``bench`` imports from it
    from bench.cost.__main__ import main

    sys.exit(main())

"""A file's source at a named commit, for benches that measure "before" beside "now".

"Before" must name a commit, not HEAD: once a change is committed, HEAD is the change itself
and the comparison silently measures the new code twice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The last commit before issue 11's conversion and colour work (phone formats, big photos).
BEFORE_ISSUE_11 = "f38cde2"


def source_at(rev: str, path: str) -> str | None:
    """``path`` (relative to the repository) as it was at ``rev``; None outside git or if absent."""
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None

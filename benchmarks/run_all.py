"""Run every benchmark in this folder (`make bench`): each prints speed ratios against a plain implementation."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> int:
    """Run each `bench_*.py` as a script, in name order."""
    here = Path(__file__).resolve().parent
    only = set(sys.argv[1:])
    for script in sorted(here.glob("bench_*.py")):
        if only and script.stem not in only:
            continue
        print(f"\n=== {script.stem}", flush=True)
        sys.argv = [str(script)]  # each benchmark runs with its own defaults, not this script's arguments
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as stop:
            if stop.code not in (None, 0):
                return int(stop.code) if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

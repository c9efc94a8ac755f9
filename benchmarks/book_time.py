"""Wall time of every chapter, run the way CI runs it (nbval re-executes the notebook).

    python benchmarks/book_time.py                 # every chapter in _toc.yml
    python benchmarks/book_time.py stability faq   # some chapters

Budgets (issue on speed): each chapter ≤ 3 minutes on a 2-core CPU, the whole book ≤ 15 minutes.
Exits 1 if a chapter fails its checks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S, BOOK_BUDGET_S = 180, 900


def chapters() -> list[str]:
    """Chapter names (book/NAME.ipynb) in the order of _toc.yml's "Chapters" part."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = []
    for part in toc.get("parts", []):
        if part.get("caption") == "Chapters":
            names += [Path(entry["file"]).name for entry in part["chapters"]]
    return names


def run_chapter(name: str) -> tuple[float, bool]:
    """(wall seconds, passed) of ``pytest book/NAME.ipynb --nbval-lax``."""
    cmd = [sys.executable, "-m", "pytest", f"book/{name}.ipynb", "--nbval-lax", "-q", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    return time.perf_counter() - start, proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all, in book order)")
    names = parser.parse_args().chapters or chapters()
    print(f"{'chapter':20s} {'seconds':>8s}  result")
    total, failed = 0.0, []
    for name in names:
        seconds, passed = run_chapter(name)
        total += seconds
        over = "  OVER 3 min" if seconds > CHAPTER_BUDGET_S else ""
        print(f"{name:20s} {seconds:8.1f}  {'passed' if passed else 'FAILED'}{over}", flush=True)
        if not passed:
            failed.append(name)
    print(f"{'total':20s} {total:8.1f}  ({total / 60:.1f} min; budget {BOOK_BUDGET_S // 60} min: "
          f"{'met' if total <= BOOK_BUDGET_S else 'NOT met'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

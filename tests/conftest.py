import os
import subprocess
import sys

import pytest
import torch

# Tiny networks gain nothing from intra-op threads, and spinning OpenMP threads slow to a crawl
# when other processes share the cores; run tests (and the CLI they start) single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=600):
    """Run ``python -m gancore ARGS`` and return the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "gancore", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

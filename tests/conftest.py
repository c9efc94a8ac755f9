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


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype (closed-form comparisons)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


class NaNRing:
    """The ring dataset, except that calls number ``first`` to ``last`` of ``sample`` return NaN."""

    def __init__(self, first, last=float("inf")):
        from gancore import toy

        self.ring, self.calls, self.first, self.last = toy("ring"), 0, first, last

    def sample(self, n, *, generator=None, device=None):
        self.calls += 1
        x = self.ring.sample(n, generator=generator, device=device)
        return x * float("nan") if self.first <= self.calls <= self.last else x

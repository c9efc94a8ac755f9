"""Training under torchrun: 2 CPU processes with gloo, DistributedDataParallel, rank-0 checkpoints."""

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from gancore import distributed
from gancore.errors import ConfigError
from gancore.train import check_world_size

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")


def test_batch_is_split_evenly_or_refused():
    assert distributed.local_batch_size(256, 2) == 128
    assert distributed.local_batch_size(64, 1) == 64
    with pytest.raises(ConfigError, match="cannot be split evenly over 3 processes"):
        distributed.local_batch_size(256, 3)


def test_images_are_sharded_without_overlap_and_toy_data_is_not():
    images = torch.arange(10.0).view(10, 1, 1, 1)
    parts = [distributed.shard(images, r, 3) for r in range(3)]
    assert sorted(torch.cat(parts).flatten().tolist()) == list(range(10))
    assert parts[1].flatten().tolist() == [1, 4, 7]
    toy = object()
    assert distributed.shard(toy, 1, 2) is toy
    with pytest.raises(ConfigError, match="cannot be sharded"):
        distributed.shard(images[:1], 1, 2)


def test_rank_zero_keeps_the_seed_and_ranks_differ():
    assert distributed.rank_seed(7, 0) == 7
    assert len({distributed.rank_seed(7, r) for r in range(4)}) == 4


def test_outside_torchrun_nothing_is_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init("cpu") is False
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    x = torch.tensor([1.0, 2.0])
    assert distributed.mean_over_ranks(x) is x and distributed.gather(3) == [3]


def test_resume_needs_the_same_number_of_processes():
    check_world_size({"world_size": 2}, 2)
    check_world_size({}, 1)  # checkpoints from before multi-process training
    with pytest.raises(ConfigError, match="trained by 2 process"):
        check_world_size({"world_size": 2}, 1)


# ----- real multi-process runs ---------------------------------------------------------------

SCRIPT = textwrap.dedent('''
    import sys, torch
    from gancore import TrainConfig, build_models, fit, toy, distributed
    out, steps, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume"
    cfg = TrainConfig(data="ring", steps=steps, batch_size=64, hidden=32, lr_g=1e-3, lr_d=1e-3,
                      penalty="r1", penalty_weight=0.1, device="cpu", checkpoint_every=10, log_every=5)
    G, D = build_models(cfg, (2,))
    run = fit(G, D, toy("ring"), cfg, run_dir=out, resume=resume, progress=False)
    assert distributed.world_size() == 2, distributed.world_size()
    torch.save({"G": run.G.state_dict(), "D": run.D.state_dict(), "G_ema": run.G_ema.state_dict(),
                "steps": run.history["step"]}, f"{out}/rank{distributed.rank()}.pt")
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_gloo_processes_hold_identical_weights_and_resume_exactly(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    whole, split = tmp_path / "whole", tmp_path / "split"
    for args in ((whole, 30, "new"), (split, 15, "new"), (split, 30, "resume")):
        proc = _torchrun(str(script), *map(str, args), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(whole / f"rank{r}.pt") for r in (0, 1)]
    for net in ("G", "D", "G_ema"):
        assert _same(ranks[0][net], ranks[1][net]), f"{net} differs between the ranks"
    assert ranks[0]["steps"] == list(range(1, 31))
    # 15 steps, stop, resume to 30 on two processes == 30 steps in one go
    resumed = torch.load(split / "rank0.pt")
    for net in ("G", "D", "G_ema"):
        assert _same(ranks[0][net], resumed[net]), f"{net}: resumed run differs from the uninterrupted one"
    saved = torch.load(whole / "checkpoint.pt", weights_only=True)
    assert saved["world_size"] == 2 and saved["step"] == 30 and len(saved["rng_ranks"]) == 2
    assert _same(saved["G"], ranks[0]["G"])
    assert not list(whole.glob("*.tmp"))


@pytest.mark.slow
def test_cli_under_torchrun_trains_resumes_and_refuses_a_one_process_resume(tmp_path):
    from conftest import run_cli

    out = tmp_path / "run"
    common = ["--data", "ring", "--batch-size", "64", "--hidden", "32", "--device", "cpu", "--quiet"]
    proc = _torchrun("-m", "gancore", "train", *common, "--steps", "20", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained ring to step 20 on 2 processes") == 1  # rank 0 reports, once
    proc = _torchrun("-m", "gancore", "train", "--resume", str(out), "--steps", "30", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 30
    result = run_cli("train", "--resume", str(out), "--steps", "40")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gancore train: error: cannot resume: the checkpoint was trained by 2 process(es), this run has 1"]

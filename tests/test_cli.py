"""The command line: a short real run, and one clean line with exit 2 for every bad input."""

import json
import pickle

import numpy as np
import pytest

FAST = ["--steps", "30", "--hidden", "16", "--batch-size", "32", "--quiet"]


def assert_clean_error(result, status=2, match=None):
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    if match:
        assert match in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("runs") / "ring"
    result = run_cli("train", "--data", "ring", *FAST, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_train_writes_a_run_directory(trained):
    assert {p.name for p in trained.iterdir()} == {".lock", "config.json", "checkpoint.pt", "history.csv"}
    config = json.loads((trained / "config.json").read_text())
    assert (config["data"], config["steps"], config["hidden"]) == ("ring", 30, 16)


def test_eval_prints_one_json_object(cli, trained):
    result = cli("eval", "--run", trained)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["num_modes"] == 8 and metrics["step"] == 30 and metrics["n"] == 2500
    assert 0 <= metrics["high_quality"] <= 1 and sum(metrics["counts"]) == 2500
    assert metrics["sliced_wasserstein"] >= 0


def test_sample_writes_npy(cli, trained, tmp_path):
    out = tmp_path / "s.npy"
    result = cli("sample", "--run", trained, "--n", "100", "--seed", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    samples = np.load(out)
    assert samples.shape == (100, 2) and samples.dtype == np.float32
    again = tmp_path / "t.npy"
    cli("sample", "--run", trained, "--n", "100", "--seed", "1", "--out", again)
    assert np.array_equal(samples, np.load(again))


def test_resume_continues_to_the_total(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--data", "ring", *FAST, "--out", out).returncode == 0
    result = cli("train", "--resume", out, "--steps", "45", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "step 45" in result.stdout
    assert (out / "history.csv").read_text().count("\n") == 46


def test_quick_starts_from_the_short_preset(cli, tmp_path):
    from gancore.presets import config_for

    out = tmp_path / "quick"
    assert cli("train", "--data", "grid", "--quick", *FAST, "--out", out).returncode == 0
    config = json.loads((out / "config.json").read_text())
    quick = config_for("grid", quick=True)
    assert (config["lr_g"], config["penalty_weight"], config["steps"]) == (quick.lr_g, quick.penalty_weight, 30)
    assert config["lr_g"] != config_for("grid").lr_g
    assert_clean_error(cli("train", "--resume", out, "--quick", "--steps", "40"), match="--quick picks a preset for a new run")


@pytest.mark.parametrize(
    "args,match",
    [
        (["train", "--loss", "bce"], "unknown loss 'bce'"),
        (["train", "--penalty", "l3"], "unknown penalty 'l3'"),
        (["train", "--data", "moons"], "unknown dataset 'moons'"),
        (["train", "--steps", "-4"], "steps must be a positive integer"),
        (["train", "--steps", "0"], "steps must be a positive integer"),
        (["train", "--steps", "abc"], "invalid int value: 'abc'"),
        (["train", "--lr-g", "nan"], "invalid float value: 'nan'"),
        (["train", "--penalty-weight", "-1"], "penalty_weight"),
        (["train", "--device", "tpu"], "unknown device"),
        (["train", "--data", "mnist", "--data-root", "nowhere"], "MNIST not found"),
    ],
)
def test_bad_training_input(cli, tmp_path, args, match):
    result = cli(*args, "--out", tmp_path / "x")
    assert_clean_error(result, match=match)
    assert not (tmp_path / "x" / "checkpoint.pt").exists()


def test_train_needs_out(cli):
    assert_clean_error(cli("train", "--data", "ring"), match="--out DIR is required")


def test_refuses_to_overwrite_a_run(cli, trained):
    before = (trained / "checkpoint.pt").read_bytes()
    assert_clean_error(cli("train", "--out", trained, *FAST), match="already holds a run")
    assert (trained / "checkpoint.pt").read_bytes() == before


def test_resume_cannot_change_the_loss(cli, trained):
    assert_clean_error(cli("train", "--resume", trained, "--loss", "hinge", "--steps", "60"), match="cannot resume: loss is 'hinge' but the checkpoint was trained with 'nonsaturating'")


@pytest.mark.parametrize("command", [["eval"], ["sample", "--out", "x.npy"], ["train-resume"]])
def test_missing_run_directory(cli, tmp_path, command):
    missing = tmp_path / "nope"
    if command == ["train-resume"]:
        result = cli("train", "--resume", missing)
    else:
        result = cli(command[0], "--run", missing, *command[1:])
    assert_clean_error(result, match="does not exist")


def test_missing_checkpoint(cli, tmp_path):
    assert_clean_error(cli("eval", "--run", tmp_path), match="no checkpoint")


def test_truncated_checkpoint_is_refused(cli, trained, tmp_path):
    data = (trained / "checkpoint.pt").read_bytes()
    (tmp_path / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    for args in (["eval", "--run", tmp_path], ["train", "--resume", tmp_path, "--steps", "50"]):
        assert_clean_error(cli(*args), match="truncated, corrupt or unsafe")
    assert len((tmp_path / "checkpoint.pt").read_bytes()) == len(data) // 2


def test_foreign_file_is_refused(cli, tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint at all" * 10)
    assert_clean_error(cli("eval", "--run", tmp_path), match="cannot load checkpoint")


def test_a_torch_file_that_is_not_ours_is_refused(cli, tmp_path):
    import torch

    torch.save({"weights": torch.zeros(3)}, tmp_path / "checkpoint.pt")
    assert_clean_error(cli("eval", "--run", tmp_path), match="not a gancore checkpoint")


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_pickle_payload_is_not_executed(cli, tmp_path):
    import torch

    torch.save({"format": "gancore-checkpoint", "evil": _Payload()}, tmp_path / "checkpoint.pt", pickle_module=pickle)
    result = cli("eval", "--run", tmp_path)
    assert_clean_error(result, match="unsafe")
    from conftest import ROOT

    assert not (tmp_path / "PWNED").exists()
    import os

    assert not os.path.exists(os.path.join(ROOT, "PWNED"))


def test_sample_rejects_bad_n_and_suffix(cli, trained, tmp_path):
    assert_clean_error(cli("sample", "--run", trained, "--n", "0", "--out", tmp_path / "a.npy"), match="--n must be a positive")
    assert_clean_error(cli("sample", "--run", trained, "--out", tmp_path / "a.txt"), match=".npy")


def test_diverged_run_exits_1_and_keeps_the_last_good_checkpoint(cli, tmp_path):
    out = tmp_path / "boom"
    result = cli("train", "--data", "ring", "--steps", "400", "--hidden", "16", "--quiet", "--lr-g", "1e30",
                 "--checkpoint-every", "1", "--out", out)
    assert_clean_error(result, status=1, match="training diverged at step")
    import torch

    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["G"].values())
    assert 0 < state["step"] < 400


def test_usage_error_is_one_line(cli):
    assert_clean_error(cli("fly"), match="invalid choice")
    assert_clean_error(cli(), match="required")


def test_import_gancore_is_light():
    import subprocess
    import sys

    code = "import sys, gancore; bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython', 'pandas') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"

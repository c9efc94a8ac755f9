"""Smoke test of benchmarks/mixtures.py: a quick run writes the table and the CSV, and --reuse trains nothing twice."""

import importlib.util
import sys
from pathlib import Path

import pytest

from gancore import sweep as sw

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mixtures.py"


@pytest.fixture(scope="module")
def mixtures():
    spec = importlib.util.spec_from_file_location("mixtures_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_run_table_csv_and_reuse(mixtures, tmp_path, capsys, monkeypatch):
    csv, md = tmp_path / "m.csv", tmp_path / "m.md"
    args = ["--quick", "--data", "ring", "--configs", "gan", "gancore", "--seeds", "0,1", "--csv", str(csv), "--md", str(md)]
    assert mixtures.main(args) == 0
    out = capsys.readouterr().out
    assert "| ring | GAN (non-saturating) | measured |" in out and "| ring | gancore preset | measured |" in out
    assert "| ring | PacGAN4 | published, PacGAN T1 |" in out and "| ring | VEEGAN | published, VEEGAN T1 |" in out
    assert "seeds meeting it: gan 0/2, gancore 0/2" in out  # 1/100 of the steps meets nothing
    assert out.strip() in md.read_text()
    rows = sw.read_csv(csv)
    assert [(r["data"], r["config"], r["seed"]) for r in rows] == [("ring", "gan", 0), ("ring", "gan", 1),
                                                                   ("ring", "gancore", 0), ("ring", "gancore", 1)]
    assert all(r["cpu_seconds"] > 0 and r["num_modes"] == 8 for r in rows)
    # --reuse: nothing is trained again, and the table is the same
    monkeypatch.setattr(sw, "sweep", lambda *a, **k: pytest.fail("reused rows were trained again"))
    assert mixtures.main(args + ["--reuse"]) == 0
    assert capsys.readouterr().out == out


def test_every_recipe_is_a_valid_config(mixtures):
    for data in mixtures.DATASETS:
        for name in mixtures.RECIPES:
            config = mixtures.recipe(name, data)
            assert config.data == data and config.device == "cpu"
    assert mixtures.recipe("wgan", "ring").optimizer == "rmsprop"
    assert mixtures.signature(mixtures.recipe("gan", "ring")) != mixtures.signature(mixtures.recipe("ns_r1", "ring"))

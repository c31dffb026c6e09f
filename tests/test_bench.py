"""The benchmark runner at tiny sizes (so it never rots): discovery protocol, table, JSON, CLI errors."""
from __future__ import annotations

import json

import pytest

from benchmarks import goal_met, interleaved, ratio_row
from benchmarks.runner import discover, main, table
from conformance.harness.cli import main as genspec


def test_discovers_every_module_with_run():
    mods = discover()
    assert {"euler_sampler", "guided_step", "video_attention", "dit_train_step"} <= set(mods)
    assert all(callable(m.run) for m in mods.values())


def test_tiny_run_writes_one_table_and_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--tiny", "--json", str(path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "Graph break" not in captured.err                       # no torch.compile advice spam
    assert "AMD" in out or "cores" in out                          # the machine line
    data = json.loads(path.read_text())
    assert {"cpu", "cores", "torch", "numpy", "torch_threads", "copy_GBps", "load_1_5_15"} <= set(data["machine"])
    rows = data["rows"]
    names = {r["benchmark"] for r in rows}
    assert {"euler_sampler", "guided_step", "video_attention", "dit_train_step"} <= names
    dit = [r for r in rows if r["benchmark"] == "dit_train_step"]
    variants = {"eager fp32", "eager bf16", "compiled fp32", "compiled bf16"}
    assert len(dit) == 4
    assert all(set(r["tokens_per_s"]) <= variants and min(r["tokens_per_s"].values()) > 0 for r in dit)
    for r in rows:
        assert r["case"] and r["case"] in out
        if r.get("ratio") is not None:
            assert r["ratio"] > 0
        if r.get("goal") is not None:                             # a goal is not judged at tiny sizes
            assert r["met"] == "n/a", r
    assert "goals n/a at tiny sizes" in out.splitlines()[0] or "goals n/a at tiny sizes" in out
    # the results compared are the same numbers (the rows carry the max |difference|)
    diffs = [r["max_abs_diff"] for r in rows if "max_abs_diff" in r]
    assert diffs and max(diffs) < 1e-9


def test_bench_help_is_not_cut(capsys):
    from conformance.harness.cli import main as genspec
    with pytest.raises(SystemExit):
        genspec(["bench", "-h"])
    out = " ".join(capsys.readouterr().out.split())
    assert "prints one table of ratios with the machine it ran on, and writes the rows as JSON." in out, out


@pytest.mark.parametrize("argv, message", [(["bench", "--only", "nope"], "unknown benchmark nope"),
                                           (["bench", "--threads", "0"], "--threads must be ≥ 1"),
                                           (["bench", "--json", "/no/such/dir/x.json"], "no directory"),
                                           (["bench", "--device", "tpu"], "not available here")])
def test_bad_use_is_one_line_and_exit_2(argv, message, capsys):
    assert genspec(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_ratio_rows_and_goals():
    times = interleaved({"a": lambda: sum(range(2000)), "b": lambda: None}, repeats=3, warmup=0)
    assert all(len(v) == 3 for v in times.values())
    row = ratio_row("a / b", {"a": [2.0, 3.0, 4.0], "b": [1.0, 1.0, 2.0]}, "a", "b", "≥ 2")
    assert row["ratio"] == 2.0 and row["median"] == 3.0
    assert goal_met(2.0, "≥ 2") is True and goal_met(1.06, "≤ 1.05") is False and goal_met(1.0, ">= 3") is False
    assert goal_met(None, "≥ 2") is None and goal_met(1.0, None) is None and goal_met(1.0, "fast") is None
    text = table([{"benchmark": "x", **row, "met": True}])
    assert "a / b" in text and "2.00" in text and "yes" in text


def test_euler_benchmark_fast_velocity_is_the_reference_expression_bit_for_bit():
    import numpy as np
    import torch

    from benchmarks.euler_sampler import MU, analytic_velocity, analytic_velocity_numpy
    for n in (1, 255, 256, 1001):                      # below, at and beyond one tiled row, partial last row
        x = torch.tensor(np.random.default_rng(n).standard_normal((n, 2)))
        t = torch.full((1,), 0.37, dtype=torch.float64).expand(n)
        f = analytic_velocity(torch.tensor(MU), x)
        assert torch.equal(f(x, t), (x - torch.tensor(MU)) / t[:, None])
        t2 = torch.rand(n, dtype=torch.float64) + 0.1                       # one time per sample
        assert torch.equal(f(x, t2), (x - torch.tensor(MU)) / t2[:, None])
        g = analytic_velocity_numpy(x.numpy())                             # the reference side, the same way
        assert np.array_equal(g(x.numpy(), t2.numpy()), (x.numpy() - MU) / t2.numpy()[:, None])

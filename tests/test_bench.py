"""The benchmark runner at tiny sizes (so it never rots): discovery protocol, table, JSON, CLI errors."""
from __future__ import annotations

import json

import pytest

from genspec.benchmarks import goal_met, interleaved, ratio_row
from genspec.benchmarks.runner import discover, main, table
from genspec.conformance.harness.cli import main as genspec


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
    assert {"euler_sampler", "guided_step", "video_attention", "dit_train_step", "t2i_job"} <= names
    dit = [r for r in rows if r["benchmark"] == "dit_train_step" and "tokens_per_s" in r]
    variants = {"eager fp32", "eager bf16", "compiled fp32", "compiled bf16"}
    assert len(dit) == 4
    assert all(set(r["tokens_per_s"]) <= variants and min(r["tokens_per_s"].values()) > 0 for r in dit)
    for r in rows:
        assert r["case"] and r["case"] in out
        if r.get("ratio") is not None:
            assert r["ratio"] > 0
        if r.get("goal") is not None and r.get("ratio") is not None:  # not judged at tiny sizes; skipped: none
            assert r["met"] == "n/a", r
    assert "goals n/a at tiny sizes" in out.splitlines()[0] or "goals n/a at tiny sizes" in out
    # the results compared are the same numbers (the rows carry the max |difference|)
    diffs = [r["max_abs_diff"] for r in rows if "max_abs_diff" in r]
    assert diffs and max(diffs) < 1e-9


def test_bench_help_is_not_cut(capsys):
    from genspec.conformance.harness.cli import main as genspec
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

    from genspec.benchmarks.euler_sampler import MU, analytic_velocity, analytic_velocity_numpy
    for n in (1, 255, 256, 1001):                      # below, at and beyond one tiled row, partial last row
        x = torch.tensor(np.random.default_rng(n).standard_normal((n, 2)))
        t = torch.full((1,), 0.37, dtype=torch.float64).expand(n)
        f = analytic_velocity(torch.tensor(MU), x)
        assert torch.equal(f(x, t), (x - torch.tensor(MU)) / t[:, None])
        t2 = torch.rand(n, dtype=torch.float64) + 0.1                       # one time per sample
        assert torch.equal(f(x, t2), (x - torch.tensor(MU)) / t2[:, None])
        g = analytic_velocity_numpy(x.numpy())                             # the reference side, the same way
        assert np.array_equal(g(x.numpy(), t2.numpy()), (x.numpy() - MU) / t2.numpy()[:, None])


def test_gpu_table_rows_at_tiny_size_on_cpu():
    """The rows `genspec bench --device cuda` gives (DiT eager/compiled × fp32/bf16 with tokens/s and MFU, genspec vs
    diffusers, the t2i job's wall time), at tiny sizes on the CPU: MFU is None without a known peak, the diffusers row
    is a ratio or skipped with its reason, the job row has its seconds."""
    from genspec.benchmarks import dit_train_step, t2i_job
    rows = dit_train_step.run(tiny=True)
    timed = [r for r in rows if "tokens_per_s" in r]
    assert len(timed) == 4 and all(r["mfu"] is None and r["card"] == "cpu" for r in timed)
    vs = [r for r in rows if "diffusers" in r["case"]]
    assert len(vs) == 1 and vs[0]["goal"] == "≥ 1.2"
    assert (vs[0]["ratio"] is None) == bool(vs[0].get("skipped"))
    job = t2i_job.run(tiny=True)
    assert len(job) == 1 and job[0]["seconds"] > 0 and "adherence" in job[0]["detail"]
    assert t2i_job.run(tiny=False)[0]["skipped"]                   # the default job is not run on the CPU


def test_diffusers_comparison_is_skipped_with_the_reason_when_its_import_raises(monkeypatch):
    from genspec.benchmarks import dit_train_step

    def broken(without_torchvision=False):
        try:
            raise RuntimeError("operator torchvision::nms does not exist")
        except RuntimeError as e:
            return None, f"diffusers' import raised RuntimeError: {e}"
    monkeypatch.setattr(dit_train_step, "import_diffusers_dit", broken)
    row = dit_train_step.versus_diffusers("tiny", dit_train_step.DiTConfig(input_size=8, patch=2, width=32, depth=1,
                                                                           heads=2, num_classes=10), 4, 1,
                                          dit_train_step.torch.device("cpu"))
    assert row["ratio"] is None and "torchvision::nms" in row["skipped"] and "skipped" in row["detail"]


def test_diffusers_dit_at_our_weights_has_our_loss_curve():
    """copy_weights makes diffusers' DiTTransformer2DModel the same function: the two loss curves agree."""
    from genspec.benchmarks import dit_train_step
    cls, why = dit_train_step.import_diffusers_dit(without_torchvision=True)
    if cls is None:
        pytest.skip(why)
    cfg = dit_train_step.DiTConfig(input_size=8, patch=2, width=32, depth=2, heads=2, num_classes=10)
    row = dit_train_step.versus_diffusers("tiny", cfg, 4, 3, dit_train_step.torch.device("cpu"),
                                          without_torchvision=True)
    # float32, the same operations in another order (diffusers: conv patch embedding, per-block embedders):
    # measured 2e-7 (DiT-S/4, 5 steps) to 4e-6 (9 steps) relative at DiT-S, batch 8
    assert row["loss_rel_diff"] < 1e-5 and len(row["losses"]["genspec"]) == 4

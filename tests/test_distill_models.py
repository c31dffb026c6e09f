"""Few-step students (accelerated/models/distill.py) against the exact teacher flow of a 2-D mixture: every progressive
round lowers its student's error, the 1-step students beat the 1-step teacher, the consistency model's boundary
condition holds for any weights.

Budget: ≈ 8 s (small config; `genspec train distill` runs the default one and reports the figures).
"""
import pytest
import torch

from accelerated.models.distill import (
    FOUR_MODES,
    PRESETS,
    ConsistencyModel,
    Evaluation,
    Oracle,
    consistency_distillation,
    progressive_distillation,
)
from accelerated.models.flow import FlowConfig, VelocityMLP

SMALL = PRESETS["small"]


@pytest.fixture(scope="module")
def rounds():
    return progressive_distillation(FOUR_MODES, SMALL)


def test_every_round_lowers_the_students_error(rounds):
    assert [r.student_steps for r in rounds] == [16, 8, 4, 2, 1]
    assert [r.teacher_steps for r in rounds] == [32, 16, 8, 4, 2]
    for r in rounds:
        assert r.error_after < r.error_before, r


def test_one_step_progressive_student_beats_one_teacher_step(rounds):
    one = rounds[-1]
    assert one.error_after < 0.5 * one.oracle_euler_error, one


def test_consistency_student_beats_the_one_step_teacher():
    model, res = consistency_distillation(FOUR_MODES, SMALL)
    assert res.one_step_error < res.one_step_error_before
    assert res.one_step_error < 0.5 * res.teacher_one_step_error, res
    # the teacher's own Euler sampler converges to Φ as the steps grow (the reference point is exact)
    e = res.teacher_euler_errors
    assert e[1] > e[2] > e[4] > e[50]


def test_consistency_boundary_holds_for_any_weights():
    torch.manual_seed(3)
    f = ConsistencyModel(VelocityMLP(FlowConfig()))
    x = torch.randn(16, 2)
    assert torch.equal(f(x, torch.zeros(16)), x)


def test_the_exact_map_is_the_teacher_flow():
    # Φ(z) is what the exact teacher's Euler sampler converges to: 400 steps are within the O(1/T) error
    ev = Evaluation.of(FOUR_MODES, 256, seed=5)
    assert ev.euler_error(Oracle(FOUR_MODES), 400) < 0.25 * ev.euler_error(Oracle(FOUR_MODES), 50)


def test_train_distill_job_writes_its_outputs(tmp_path):
    import json
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "conformance", "train", "distill", "--out", str(tmp_path), "--preset", "tiny"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["student_steps"] for r in m["progressive"]] == [16, 8, 4, 2, 1]
    assert "| 1 | 2 |" in (tmp_path / "table.md").read_text()
    from accelerated.models.images import read_png
    assert read_png(str(tmp_path / "samples.png")).shape[2] == 3

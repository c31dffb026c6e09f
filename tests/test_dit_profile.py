"""benchmarks/dit_train_step.py --profile: where a DiT training step's time goes, genspec's and diffusers' at equal
config; genspec's step runs no GEMM it does not need (the count follows from its linear layers)."""
from __future__ import annotations

import pytest
import torch

from genspec.accelerated.models.dit import DiTConfig


def test_profile_groups_the_step_and_counts_its_gemms():
    from genspec.benchmarks import dit_train_step as B
    if B.import_diffusers_dit(True)[0] is None:
        pytest.skip("diffusers does not import")
    depth = 2
    cfg = DiTConfig(input_size=8, patch=2, width=32, depth=depth, heads=2, num_classes=10)
    prof = B.profile_versus_diffusers(cfg, 2, 1, torch.device("cpu"), without_torchvision=True)
    assert prof is not None and set(prof) == {"genspec", "diffusers"}
    for side in prof.values():
        assert side["ms_per_step"]["GEMM"] > 0 and side["ms_per_step"]["attention"] > 0
    # genspec's linear layers: 7 a block (q, k, v, o, two MLP, the modulation), the patch embedding, the timestep
    # MLP's two and the final layer's two. Backward: one GEMM for the weight and one for the input of each, except
    # the patch embedding and the timestep MLP's first layer, whose inputs need no gradient
    linears = 7 * depth + 5
    assert prof["genspec"]["gemm_calls_per_step"] == 3 * linears - 2
    # diffusers embeds t and y again in every block: two more linear layers a block
    assert prof["diffusers"]["gemm_calls_per_step"] > prof["genspec"]["gemm_calls_per_step"]

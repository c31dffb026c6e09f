"""A consistency model f_θ(x, t) = x − t F_θ(x, t) around any velocity network F_θ (Song et al. 2023): the boundary
condition f_θ(x, 0) = x is built in. Trained by the distillation jobs (accelerated/jobs/distill.py on 2-D points,
accelerated/jobs/distill_images.py on toy-image latents).
"""
from __future__ import annotations

import torch
import torch.nn as nn


class ConsistencyModel(nn.Module):
    """f_θ(x, t, …) = x − t F_θ(x, t, …): the boundary condition f_θ(x, 0) = x holds for every θ (c_skip = 1,
    c_out = −t). x is (n, …) (points or latent images), t (n,); further arguments (a text embedding) go to F_θ.

    With F_θ a velocity this is one Euler step from t to 0; training makes F_θ the average velocity (x_t − Φ)/t.
    """

    def __init__(self, F: nn.Module):
        super().__init__()
        self.F = F

    def forward(self, x: torch.Tensor, t: torch.Tensor, *cond) -> torch.Tensor:
        return x - t.reshape(-1, *(1,) * (x.ndim - 1)) * self.F(x, t, *cond)

"""A class-conditional causal transformer over a VQ token sequence (nanoGPT-style; DALL-E 1 / LlamaGen, 03), with
KV-cached sampling that equals uncached sampling.

The sequence seen by the model is [class token, s_0, …, s_{L−2}]; position i predicts s_i, so p(s | y) = Π_i
p(s_i | s_<i, y) (ar.factorization). Attention uses `accelerated.attention.sdpa` with the mask of
`accelerated.vq.causal_mask` (ar.causal_mask). Sampling guides the logits with `accelerated.vq.guided_logits`
(ar.logit_guidance; weight w of cfg's default form, LlamaGen's cfg_scale s = 1 + w), truncates and tempers them
with `accelerated.vq.sampling_probs` (ar.sampling_distribution) and draws by the inverse CDF of given uniforms.
The null class y_∅ = C (cfg's extra_class) is the unconditional model, trained by conditioning dropout.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from accelerated.attention import sdpa
from accelerated.vq import causal_mask, guided_logits, sampling_probs


@dataclass
class ARConfig:
    vocab: int = 32             # K codebook entries
    length: int = 64            # L tokens (8×8 grid)
    num_classes: int = 12       # C; the null class is C
    width: int = 128
    depth: int = 3
    heads: int = 4


class Block(nn.Module):
    """Pre-LayerNorm block: x + attn(LN x), then x + MLP(LN x). `cache` holds (k, v) of the past positions."""

    def __init__(self, cfg: ARConfig):
        super().__init__()
        self.heads = cfg.heads
        self.ln1, self.ln2 = nn.LayerNorm(cfg.width), nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(), nn.Linear(4 * cfg.width, cfg.width))

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        B, L, D = t.shape
        return t.reshape(B, L, self.heads, D // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = (self._split(t) for t in self.qkv(self.ln1(x)).chunk(3, dim=2))
        if cache is not None:                       # incremental: the new positions see every cached one
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        Lk = k.shape[2]
        mask = causal_mask(Lk, device=x.device)[Lk - L:]          # rows of the new positions
        a = sdpa(q, k, v, mask).transpose(1, 2).reshape(B, L, D)
        x = x + self.proj(a)
        return x + self.mlp(self.ln2(x))


class ARTransformer(nn.Module):
    def __init__(self, cfg: ARConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.width)
        self.cls = nn.Embedding(cfg.num_classes + 1, cfg.width)        # + the null class y_∅ = C
        self.pos = nn.Parameter(torch.zeros(cfg.length, cfg.width))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab)

    def _embed(self, y: torch.Tensor, s: torch.Tensor, start: int) -> torch.Tensor:
        """Inputs at positions start.. : position 0 is the class token, position i > 0 the token s_{i−1}."""
        parts = []
        if start == 0:
            parts.append(self.cls(y)[:, None])
        if s.shape[1]:
            parts.append(self.tok(s))
        h = torch.cat(parts, dim=1)
        return h + self.pos[start:start + h.shape[1]]

    def forward(self, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, K) of p(s_i | s_<i, y) for every i (uncached; training and likelihood)."""
        h = self._embed(y, s[:, :-1], 0)
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln(h))

    def log_prob(self, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(s | y) = Σ_i log p(s_i | s_<i, y) (ar.factorization), (B,)."""
        lp = torch.log_softmax(self.forward(s, y), dim=2)
        return lp.gather(2, s[:, :, None])[..., 0].sum(1)

    def _step_logits(self, y, s, caches, use_cache):
        """Logits of the next token given the prefix s (B, i)."""
        i = s.shape[1]
        if not use_cache:
            h = self._embed(y, s, 0)
            for blk in self.blocks:
                h = blk(h)
            return self.head(self.ln(h[:, -1]))
        h = self._embed(y, s[:, -1:], i) if i else self._embed(y, s, 0)
        for blk, cache in zip(self.blocks, caches, strict=True):
            h = blk(h, cache)
        return self.head(self.ln(h[:, -1]))

    @torch.no_grad()
    def sample(self, y: torch.Tensor, w: float = 0.0, temperature: float = 1.0, top_k: int = 0,
               generator: torch.Generator | None = None, use_cache: bool = True, return_logits: bool = False):
        """Tokens (B, L) by ancestral sampling with guided logits ℓ_∅ + (1 + w)(ℓ_y − ℓ_∅): one batched pass of 2B
        rows ([y; y_∅]) per position; w = 0 is the conditional model. The uniforms come from `generator`."""
        B, L = y.shape[0], self.cfg.length
        null = torch.full_like(y, self.cfg.num_classes)
        yy = torch.cat([y, null])
        caches: list[dict] = [dict() for _ in self.blocks]
        s = torch.zeros(2 * B, 0, dtype=torch.long, device=y.device)
        u = torch.rand(B, L, generator=generator, dtype=torch.float64).to(y.device)
        seen = []
        for i in range(L):
            logits = self._step_logits(yy, s, caches, use_cache).float()
            lg = guided_logits(logits[:B], logits[B:], w)
            seen.append(lg)
            p = sampling_probs(lg, temperature, top_k).double()
            cdf = p.cumsum(1)
            nxt = torch.searchsorted(cdf, (u[:, i:i + 1] * cdf[:, -1:]).contiguous(), right=True)
            nxt = torch.minimum(nxt, (cdf < cdf[:, -1:]).sum(1, keepdim=True))   # u·total on the last step: last p > 0
            s = torch.cat([s, nxt.repeat(2, 1)], dim=1)
        out = s[:B]
        return (out, torch.stack(seen, 1)) if return_logits else out


def train_ar(seqs: torch.Tensor, labels: torch.Tensor, cfg: ARConfig, steps: int = 2000, batch: int = 64,
             lr: float = 1e-3, p_drop: float = 0.1, seed: int = 0, log=None) -> ARTransformer:
    """Cross-entropy of p(s_i | s_<i, y) with y replaced by y_∅ with probability p_drop (cfg.dropout)."""
    from accelerated.cfg import drop_labels
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ARTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=max(0.1, 2.0 / steps))
             if steps >= 10 else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))   # too short to warm up
    for step in range(steps):
        idx = torch.randint(seqs.shape[0], (batch,), generator=g)
        s, y = seqs[idx], labels[idx]
        y = drop_labels(y, torch.rand(batch, generator=g, dtype=torch.float64), cfg.num_classes, p_drop)
        logits = model(s, y)
        loss = nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab), s.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step + 1) % 250 == 0:
            log(f"ar step {step + 1}/{steps}: cross-entropy {loss.item():.4f} nats/token")
    return model.eval()

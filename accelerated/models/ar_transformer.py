"""A conditional causal transformer over a VQ token sequence (nanoGPT-style; DALL-E 1 / LlamaGen, 03), with KV-cached
sampling that equals uncached sampling.

The sequence seen by the model is [c_1, …, c_P, s_0, …, s_{L−2}]: a conditioning prefix of P vectors, then the
tokens; the position of c_P predicts s_0 and that of s_{i−1} predicts s_i, so p(s | y) = Π_i p(s_i | s_<i, y)
(ar.factorization). The prefix is
- cond = "class": one learned vector per class (P = 1), the null class y_∅ = C (cfg's extra_class);
- cond = "text": the token outputs of the image stack's byte-level text encoder (accelerated/models/text.py),
  projected to the model width (P = the encoder's max_len; padding keys are masked), the null text y_∅ a learned
  `NullText` (DALL-E 1 and Parti put the text tokens before the image tokens in one causal sequence the same way).
Attention uses `accelerated.attention.sdpa` with the mask of `accelerated.vq.causal_mask` (ar.causal_mask) and the
prefix's key-padding mask. Sampling guides the logits with `accelerated.vq.guided_logits` (ar.logit_guidance;
weight w of cfg's default form, LlamaGen's cfg_scale s = 1 + w), truncates and tempers them with
`accelerated.vq.sampling_probs` (ar.sampling_distribution), optionally restricts them to the tokens the conditional
model finds plausible (`accelerated.vq.plausible_tokens`, ar.plausibility) and draws by the inverse CDF of given
uniforms. The null condition is the unconditional model, trained by conditioning dropout (`accelerated.cfg.drop_labels`,
cfg.dropout).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from genspec.accelerated.attention import sdpa
from genspec.accelerated.cfg import dropped_rows
from genspec.accelerated.models.text import ByteTextEncoder, NullText, TextConfig, encode_each
from genspec.accelerated.vq import causal_mask, guided_logits, plausible_tokens, sampling_probs

Condition = torch.Tensor | list[str]          # class indices (B,) for cond = "class", captions for cond = "text"


@dataclass
class ARConfig:
    vocab: int = 32             # K codebook entries
    length: int = 64            # L tokens (8×8 grid)
    num_classes: int = 12       # C (cond = "class"); the null class is C
    width: int = 128
    depth: int = 3
    heads: int = 4
    cond: str = "class"         # "class" or "text"
    text: TextConfig = field(default_factory=lambda: TextConfig(width=64, depth=1, heads=4, max_len=16))

    def __post_init__(self):
        if isinstance(self.text, dict):               # from asdict(), e.g. a checkpoint's "ar_config"
            self.text = TextConfig(**self.text)
        if self.cond not in ("class", "text"):
            raise ValueError(f"ARConfig: cond must be 'class' or 'text'; got {self.cond!r}")

    @property
    def prefix(self) -> int:
        """P, the number of conditioning positions before the tokens."""
        return 1 if self.cond == "class" else self.text.max_len


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """x: (B, L, D) new positions; mask: bool (B, 1, L, Lk), the rows of the new positions over every key."""
        B, L, D = x.shape
        q, k, v = (self._split(t) for t in self.qkv(self.ln1(x)).chunk(3, dim=2))
        if cache is not None:                       # incremental: the new positions see every cached one
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        a = sdpa.raw(q, k, v, mask).transpose(1, 2).reshape(B, L, D)
        x = x + self.proj(a)
        return x + self.mlp(self.ln2(x))


class ARTransformer(nn.Module):
    def __init__(self, cfg: ARConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.width)
        if cfg.cond == "class":
            self.cls = nn.Embedding(cfg.num_classes + 1, cfg.width)        # + the null class y_∅ = C
        else:
            self.text_encoder = ByteTextEncoder(cfg.text)
            self.null_text = NullText(cfg.text.width)
            self.text_in = nn.Linear(cfg.text.width, cfg.width)
        self.pos = nn.Parameter(torch.zeros(cfg.prefix + cfg.length - 1, cfg.width))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab)

    def prefix(self, y: Condition, null: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The conditioning prefix (B, P, width) and its key mask (B, P) bool of conditions y; rows where `null`
        (bool (B,)) is True get the null condition y_∅ instead."""
        B = len(y)
        device = self.pos.device
        if self.cfg.cond == "class":
            if not isinstance(y, torch.Tensor):
                raise TypeError("ARTransformer(cond='class'): y must be a tensor of class indices")
            if null is not None:
                y = torch.where(null.to(y.device), torch.full_like(y, self.cfg.num_classes), y)
            return self.cls(y.to(device))[:, None], torch.ones(B, 1, dtype=torch.bool, device=device)
        if isinstance(y, torch.Tensor):
            raise TypeError("ARTransformer(cond='text'): y must be a list of captions")
        text = encode_each(self.text_encoder, y)
        if null is not None:
            text = text.where(~null, self.null_text(B, text.tokens.shape[1]))
        return self.text_in(text.tokens), text.mask

    def _run(self, h: torch.Tensor, key_mask: torch.Tensor, caches: list[dict] | None = None) -> torch.Tensor:
        """The blocks on the new positions h (B, n, width) whose keys so far (cached + new) have mask key_mask
        (B, Lk); returns the final LayerNorm's output."""
        Lk, n = key_mask.shape[1], h.shape[1]
        mask = causal_mask.raw(Lk, device=h.device)[Lk - n:][None, None] & key_mask[:, None, None, :]
        for i, blk in enumerate(self.blocks):
            h = blk(h, mask, None if caches is None else caches[i])
        return self.ln(h)

    def forward(self, s: torch.Tensor, y: Condition, null: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, L, K) of p(s_i | s_<i, y) for every i (uncached; training and likelihood)."""
        c, cmask = self.prefix(y, null)
        P = c.shape[1]
        h = torch.cat([c, self.tok(s[:, :-1])], dim=1) + self.pos
        key_mask = torch.cat([cmask, torch.ones_like(s[:, :-1], dtype=torch.bool)], dim=1)
        return self.head(self._run(h, key_mask)[:, P - 1:])

    def log_prob(self, s: torch.Tensor, y: Condition, null: torch.Tensor | None = None) -> torch.Tensor:
        """log p(s | y) = Σ_i log p(s_i | s_<i, y) (ar.factorization), (B,)."""
        lp = torch.log_softmax(self.forward(s, y, null), dim=2)
        return lp.gather(2, s[:, :, None])[..., 0].sum(1)

    def _step_logits(self, c: torch.Tensor, cmask: torch.Tensor, s: torch.Tensor, state: dict | None):
        """Logits (B, K) of the next token after the prefix (c, cmask) and the tokens s (B, i). `state` (None:
        recompute everything) carries the blocks' key/value caches and the key mask between calls."""
        P, i = c.shape[1], s.shape[1]
        if state is None:
            h = torch.cat([c, self.tok(s)], dim=1) + self.pos[:P + i]
            key_mask = torch.cat([cmask, torch.ones_like(s, dtype=torch.bool)], dim=1)
            return self.head(self._run(h, key_mask)[:, -1])
        if i == 0:                                  # the prefix, all at once
            h, state["mask"] = c + self.pos[:P], cmask
        else:                                       # one new token, at position P + i − 1
            h = self.tok(s[:, -1:]) + self.pos[P + i - 1:P + i]
            state["mask"] = torch.cat([state["mask"], torch.ones_like(s[:, -1:], dtype=torch.bool)], dim=1)
        return self.head(self._run(h, state["mask"], state["caches"])[:, -1])

    @torch.no_grad()
    def sample(self, y: Condition, w: float = 0.0, temperature: float = 1.0, top_k: int = 0,
               generator: torch.Generator | None = None, use_cache: bool = True, return_logits: bool = False,
               null: str = "learned", conditions: Condition | None = None, plausibility: float = 0.0):
        """Tokens (B, L) by ancestral sampling with guided logits ℓ_∅ + (1 + w)(ℓ_y − ℓ_∅), w = 0 the conditional
        model; one batched pass per position. The uniforms come from `generator`. The null logits ℓ_∅ are
        - null = "learned": the model at the null condition y_∅ (trained by conditioning dropout; rows [y; y_∅]);
        - null = "mixture": log Σ_c p(c | s_<i) p(s_i | s_<i, c) over the C `conditions` (default: every class),
          p(c | s_<i) ∝ p(s_<i | c) (a uniform prior): the marginal the conditional model itself implies, so
          ℓ_y − ℓ_∅ = log p(y | s_≤i) − log p(y | s_<i) is the model's own class-posterior increment (rows
          [y; every condition for each sample], C + 1 per sample). A diagnostic of the learned null model.
        plausibility: α of ar.plausibility: the token is drawn from the guided distribution restricted to
        V = {j : p_y,j ≥ α max p_y} and renormalised (0: no restriction; a row whose top-k set misses V, possible
        only with top_k > 0, stays unrestricted).
        return_logits: also the guided logits (B, L, K) (w = −1 gives ℓ_∅ itself), before any restriction."""
        B, L = len(y), self.cfg.length
        if null == "learned":
            C = 1
            rows: Condition = torch.cat([y, y]) if isinstance(y, torch.Tensor) else list(y) + list(y)
            c, cmask = self.prefix(rows, torch.arange(2 * B) >= B)
        elif null == "mixture":
            if conditions is None:
                if self.cfg.cond != "class":
                    raise ValueError("ARTransformer.sample: null='mixture' with cond='text' needs the captions")
                conditions = torch.arange(self.cfg.num_classes)
            C = len(conditions)
            if isinstance(y, torch.Tensor) and isinstance(conditions, torch.Tensor):
                rows = torch.cat([y, conditions.repeat(B)])
            elif not isinstance(y, torch.Tensor) and not isinstance(conditions, torch.Tensor):
                rows = list(y) + list(conditions) * B
            else:
                raise TypeError("ARTransformer.sample: y and conditions must both be class indices or captions")
            c, cmask = self.prefix(rows)
        else:
            raise ValueError(f"ARTransformer.sample: null must be 'learned' or 'mixture'; got {null!r}")
        state: dict | None = {"caches": [dict() for _ in self.blocks]} if use_cache else None
        s = torch.zeros(B * (C + 1), 0, dtype=torch.long, device=c.device)
        u = torch.rand(B, L, generator=generator, dtype=torch.float64).to(c.device)
        log_lik = torch.zeros(B, C, device=c.device)                  # log p(s_<i | c) of the mixture's conditions
        seen = []
        for i in range(L):
            logits = self._step_logits(c, cmask, s, state).float()
            if null == "learned":
                l_null = logits[B:]
            else:
                lp = torch.log_softmax(logits[B:].reshape(B, C, -1), dim=2)
                l_null = torch.logsumexp(torch.log_softmax(log_lik, dim=1)[..., None] + lp, dim=1)
            lg = guided_logits(logits[:B], l_null, w)
            seen.append(lg)
            p = sampling_probs(lg, temperature, top_k).double()
            if plausibility > 0:                     # restricted to V; the inverse CDF below renormalises
                q = p * plausible_tokens(logits[:B], plausibility)
                p = torch.where(q.sum(1, keepdim=True) > 0, q, p)   # a top-k set outside V: that row unrestricted
            cdf = p.cumsum(1)
            nxt = torch.searchsorted(cdf, (u[:, i:i + 1] * cdf[:, -1:]).contiguous(), right=True)
            nxt = torch.minimum(nxt, (cdf < cdf[:, -1:]).sum(1, keepdim=True))   # u·total on the last step: last p > 0
            if null == "mixture":
                log_lik += lp.gather(2, nxt[:, None, :].expand(B, C, 1))[..., 0]
            s = torch.cat([s, torch.cat([nxt, nxt.repeat_interleave(C, dim=0)])], dim=1)
        out = s[:B]
        return (out, torch.stack(seen, 1)) if return_logits else out


def train_ar(seqs: torch.Tensor, y: Condition, cfg: ARConfig, steps: int = 2000, batch: int = 64,
             lr: float = 1e-3, p_drop: float = 0.1, seed: int = 0, log=None, on_step=None) -> ARTransformer:
    """Cross-entropy of p(s_i | s_<i, y) with y replaced by y_∅ with probability p_drop (cfg.dropout); y: class
    indices (cond = "class") or one caption per sequence (cond = "text"). on_step(loss=) after every step, the loss
    a detached tensor (a progress bar, a loss curve)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ARTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=max(0.1, 2.0 / steps))
             if steps >= 10 else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))   # too short to warm up
    for step in range(steps):
        idx = torch.randint(seqs.shape[0], (batch,), generator=g)
        s = seqs[idx]
        yb = y[idx] if isinstance(y, torch.Tensor) else [y[i] for i in idx.tolist()]
        null = dropped_rows(torch.rand(batch, generator=g, dtype=torch.float64), p_drop)   # lose their condition
        logits = model(s, yb, null)
        loss = nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab), s.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if on_step is not None:
            on_step(loss=loss.detach())
        if log is not None and (step + 1) % 250 == 0:
            log(f"ar step {step + 1}/{steps}: cross-entropy {loss.item():.4f} nats/token")
    return model.eval()

"""Text encoders for the text-to-image stack: a byte-level tokenizer and a small transformer encoder, behind the
`TextEncoder` protocol that a `transformers` CLIP or T5 text model also satisfies (through `HFTextEncoder`).

An encoder maps a list of strings to `TextEmbedding(tokens (B, M, D), mask (B, M) bool, pooled (B, D))`: the
token sequence is what cross-attention / joint attention reads, the pooled vector what is added to the timestep
embedding (as in SD3 and DiT's class embedding).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn

from genspec.accelerated.models.layers import Attention, Mlp


@dataclass
class TextEmbedding:
    tokens: torch.Tensor      # (B, M, D) one vector per token
    mask: torch.Tensor        # (B, M) bool, True = a real token (False = padding)
    pooled: torch.Tensor      # (B, D) one vector per text

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def cat(self, other: TextEmbedding) -> TextEmbedding:
        """Row-wise concatenation (both padded to the same M): the batched [cond; null] call of CFG."""
        return TextEmbedding(torch.cat([self.tokens, other.tokens]), torch.cat([self.mask, other.mask]),
                             torch.cat([self.pooled, other.pooled]))

    def rows(self, idx: torch.Tensor) -> TextEmbedding:
        """The embeddings of rows ``idx`` (a table of captions looked up per sample)."""
        return TextEmbedding(self.tokens[idx], self.mask[idx], self.pooled[idx])

    def where(self, keep: torch.Tensor, other: TextEmbedding) -> TextEmbedding:
        """Per row: self where keep, else other (conditioning dropout to the null text)."""
        k = keep.to(self.tokens.device)
        return TextEmbedding(torch.where(k[:, None, None], self.tokens, other.tokens),
                             torch.where(k[:, None], self.mask, other.mask),
                             torch.where(k[:, None], self.pooled, other.pooled))


@runtime_checkable
class TextEncoder(Protocol):
    """What the denoisers and the pipeline need from a text encoder."""

    width: int                # D

    def __call__(self, texts: list[str]) -> TextEmbedding: ...


def encode_each(encoder: TextEncoder, captions: list[str]) -> TextEmbedding:
    """``encoder`` on a batch of captions, each distinct caption encoded once and its rows gathered."""
    unique = sorted(set(captions))
    table = encoder(unique)
    return table.rows(torch.tensor([unique.index(c) for c in captions], device=table.tokens.device))


class ByteTokenizer:
    """UTF-8 bytes → ids 0..255, plus PAD = 256, BOS = 257 (its output is the pooled vector's anchor), EOS = 258.
    Every text becomes [BOS, bytes…, EOS] truncated to max_len and right-padded with PAD."""

    PAD, BOS, EOS = 256, 257, 258
    vocab_size = 259

    def __init__(self, max_len: int = 32):
        self.max_len = max_len

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, max_len) long, mask (B, max_len) bool)."""
        ids = torch.full((len(texts), self.max_len), self.PAD, dtype=torch.long)
        for i, s in enumerate(texts):
            seq = [self.BOS, *s.encode("utf-8")][: self.max_len - 1] + [self.EOS]
            ids[i, : len(seq)] = torch.tensor(seq)
        return ids, ids != self.PAD


@dataclass
class TextConfig:
    width: int = 128
    depth: int = 2
    heads: int = 4
    max_len: int = 32


class EncoderBlock(nn.Module):
    """Pre-LN transformer block: x + Attn(LN x), then x + MLP(LN x)."""

    def __init__(self, c: TextConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(c.width)
        self.attn = Attention(c.width, c.heads)
        self.norm2 = nn.LayerNorm(c.width)
        self.mlp = Mlp(c.width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.mlp(self.norm2(x))


class ByteTextEncoder(nn.Module):
    """Byte tokens → token embeddings + learned positions → pre-LN blocks → LayerNorm; pooled = mean of the real
    tokens' outputs. Satisfies `TextEncoder`."""

    def __init__(self, config: TextConfig | None = None):
        super().__init__()
        c = self.config = config or TextConfig()
        self.width = c.width
        self.tokenizer = ByteTokenizer(c.max_len)
        self.embed = nn.Embedding(ByteTokenizer.vocab_size, c.width)
        self.pos = nn.Parameter(torch.zeros(1, c.max_len, c.width))
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(c) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.width)

    def forward(self, texts: list[str]) -> TextEmbedding:
        ids, mask = self.tokenizer(texts)
        ids, mask = ids.to(self.pos.device), mask.to(self.pos.device)
        x = self.embed(ids) + self.pos
        key_mask = mask[:, None, :]                                     # (B, 1, M): keys that may be attended
        for block in self.blocks:
            x = block(x, key_mask)
        x = self.norm(x)
        m = mask[..., None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1)
        return TextEmbedding(x, mask, pooled)


class NullText(nn.Module):
    """The null text y_∅ of classifier-free guidance for a denoiser: one learned token (the mask admits only
    position 0, so attention always has a key) and a learned pooled vector."""

    def __init__(self, width: int):
        super().__init__()
        self.token = nn.Parameter(torch.randn(width) * 0.02)
        self.pooled = nn.Parameter(torch.randn(width) * 0.02)

    def forward(self, batch: int, length: int) -> TextEmbedding:
        d = self.token.shape[0]
        mask = torch.zeros(batch, length, dtype=torch.bool, device=self.token.device)
        mask[:, 0] = True
        return TextEmbedding(self.token.expand(batch, length, d), mask, self.pooled.expand(batch, d))


class HFTextEncoder(nn.Module):
    """Adapter of a `transformers` text model (CLIPTextModel, T5EncoderModel, …) and its tokenizer to
    `TextEncoder`: tokens = last_hidden_state, pooled = pooler_output where the model has one (CLIP), else the mean
    of the real tokens (T5). Nothing is downloaded here: pass a model you built or loaded yourself."""

    def __init__(self, model: nn.Module, tokenizer, max_len: int = 77):
        super().__init__()
        self.model, self.tokenizer, self.max_len = model, tokenizer, max_len
        config: Any = model.config
        self.width = int(config.hidden_size if hasattr(config, "hidden_size") else config.d_model)

    def forward(self, texts: list[str]) -> TextEmbedding:
        device = next(self.model.parameters()).device
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_len,
                             return_tensors="pt")
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device).bool()
        out = self.model(input_ids=ids, attention_mask=mask.long())
        tokens = out.last_hidden_state
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            m = mask[..., None].to(tokens.dtype)
            pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1)
        return TextEmbedding(tokens, mask, pooled)

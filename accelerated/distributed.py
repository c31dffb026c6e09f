"""Data-parallel training under torchrun (torch.distributed): the machinery the training jobs share.

    torchrun --nproc_per_node 2 $(which genspec) train t2i --out DIR        # gloo on CPU, NCCL on CUDA

`World` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) and starts the process group; without it the
world is one process and everything below is the identity. Each step draws the whole batch of B samples (indices,
noise, times, dropout) from one generator seeded alike on every rank, and rank r keeps rows `shard(B)`: B/N rows of
its own, and N processes together see exactly the batch one process sees. DistributedDataParallel averages the
gradients of the ranks' mean losses, which is the gradient of the batch's mean loss: N processes at B/N per rank take
the steps one process takes at B (tests/test_distributed.py measures how close). Only rank 0 logs and writes
checkpoints and pictures; every rank resumes from rank 0's checkpoint (model, optimizer, step and the generator,
which is the same on every rank).

For DiT configs too large to replicate, `shard_dit` applies FSDP2's `fully_shard` to each block and the whole model:
parameters, gradients and AdamW's moments are split over the ranks (`training_state_bytes` counts what that saves).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: rank r of size N (N = 1: no process group)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs and writes."""
        return self.rank == 0

    def shard(self, batch: int) -> slice:
        """The rows of a global batch this rank trains on."""
        if batch % self.size:
            raise ValueError(f"a global batch of {batch} does not split over {self.size} processes")
        per = batch // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def device(self, device: str | torch.device) -> torch.device:
        """The device of this rank: cuda:LOCAL_RANK for a CUDA run, else as given."""
        dev = torch.device(device)
        return torch.device("cuda", self.local_rank) if dev.type == "cuda" and self.size > 1 else dev


ONE = World()
"""the world of one process (no torchrun)."""


def world(device: str | torch.device = "cpu") -> World:
    """The world torchrun started this process in (initialising the process group: NCCL for CUDA, gloo otherwise),
    or a one-process world."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    w = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(w.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return w


def data_parallel(model: nn.Module, w: World) -> nn.Module:
    """DistributedDataParallel(model) in a world of several processes (it broadcasts rank 0's weights), else the
    model."""
    if w.size <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel
    dev = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def broadcast_module(model: nn.Module, w: World) -> None:
    """Rank 0's parameters and buffers on every rank (a model trained outside DDP, e.g. the frozen autoencoder)."""
    if w.size > 1:
        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                dist.broadcast(t.data, src=0)


def mean(x: torch.Tensor, w: World) -> torch.Tensor:
    """The mean of x over the ranks (a logged loss: the batch's, as one process computes it)."""
    if w.size <= 1:
        return x
    y = x.detach().clone()
    dist.all_reduce(y)
    return y / w.size


def barrier(w: World) -> None:
    if w.size > 1:
        dist.barrier()


def finish(w: World) -> None:
    """End the process group (torchrun's processes then exit cleanly)."""
    if w.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard_dit(dit: nn.Module) -> nn.Module:
    """FSDP2: `fully_shard` each DiT block, then the model (its embedders and final layer); the module is changed in
    place (its parameters become DTensors sharded over the process group) and returned."""
    from torch.distributed.fsdp import fully_shard
    blocks: nn.ModuleList = dit.blocks  # type: ignore[assignment]
    for block in blocks:
        fully_shard(block)
    fully_shard(dit)
    return dit


def training_state_bytes(parameters: int, ranks: int, sharded: bool, param_bytes: int = 4) -> int:
    """Bytes per rank of the training state AdamW keeps for `parameters` parameters: the parameters, their gradients
    and the two moments (4 × param_bytes each); all of it on every rank under DDP, 1/ranks of it under FSDP (the
    full parameters of one block are gathered only while it runs)."""
    full = 4 * param_bytes * parameters
    return -(-full // ranks) if sharded else full

"""Project-wide test settings."""
import torch

# The tests use small tensors: one intra-op thread is faster and steadier than torch's default on a
# shared 2-core machine, and makes timings in the tests comparable between runs.
torch.set_num_threads(1)

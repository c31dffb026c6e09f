"""PyTorch implementations of the spec (any device, dtype-preserving, batched) and the model stack."""

"""Float64 NumPy reference implementations, one module per family, each stating its equation."""

"""Trained networks against the certified optimum (placeholder docstring)."""

"""Benchmarks that print measured figures, each as a ratio against a reference measured in the same run."""

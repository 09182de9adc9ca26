"""Benchmarks and load generators (ratios against a baseline measured in the same run)."""

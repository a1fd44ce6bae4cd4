"""Benchmarks: how fast the harness is and how fast the handler reacts, each figure next to its floor.

    python -m benchmarks [--quick] [--output FILE.json] [--only NAME ...]

Every figure is a median and a p95 over repetitions, reported as a ratio to a floor measured in the same
run, because these machines are shared and noisy: an absolute number means little, a ratio travels.
Nothing here asserts on time; the quick mode only keeps the code working in CI.
"""

"""`make bench`: speed and memory of every stage, in one table whose ratios hold on a noisy machine.

Above every stage: it times extract, classify and finetune, and nothing imports it but the tests
(`bench.synthetic` builds their generated caches). `bench/experiments/` holds the experiments behind
BENCHMARKS.md's other tables: each runs on its own, none is part of `make bench`.
"""

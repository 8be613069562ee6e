"""`make bench`: speed and memory of every stage, in one table whose ratios hold on a noisy machine.

Above every stage: it times extract, classify and finetune, and nothing imports it.
"""

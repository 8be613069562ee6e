"""The comparison report: every method that ran on one cache, side by side (`make report`).

Above every stage: it reads what extract, classify and finetune wrote (and the audit's `audit.json`,
without importing `audit`). Only bench imports it (`bench.experiments.views` reuses its rows).
"""

"""Stage 3: end-to-end fine-tuning of MobileNetV2's top on the cache's splits, and the report."""

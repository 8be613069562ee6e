"""Stage 3: end-to-end fine-tuning of the backbone's top on the cache's splits (`make finetune`), and the
tutorial's recipe timed as a baseline (`make baseline`)."""

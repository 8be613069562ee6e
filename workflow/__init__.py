"""What every stage shares, below the cache: where each artifact lives (`paths`), the error a
user can fix (`errors`), and command lines derived from config dataclasses (`cli`).

Imports nothing of the project's own: cache ← extract ← classify ← finetune ← report/bench
all build on it.
"""

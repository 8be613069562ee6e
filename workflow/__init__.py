"""What every stage shares, below the cache: where each artifact lives (`paths`), the error a
user can fix (`errors`), command lines derived from config dataclasses (`cli`), and the pages
people read (the report, the audit) as one structure rendered by Jinja2 templates (`page`).

Imports nothing of the project's own: cache ← extract ← classify ← finetune ← report/bench
all build on it.
"""

"""`python -m audit` (`make audit`): find the dataset's own problems from its cached features, in
seconds: label issues (out-of-fold logistic regression ranked by cleanlab's confident learning),
near-duplicates within a split, leakage (near-duplicates across splits, which inflate every
accuracy the report prints) and outliers. Writes audit.csv, audit.json, and galleries of
thumbnails in audit.md and a self-contained audit.html into --out."""

import sys

from audit.config import AuditConfig
from workflow import cli

SHOWN = 5  # findings printed per issue


def show(config: AuditConfig, audit) -> None:
    findings, summary = audit.findings, audit.summary
    for issue, count in summary["counts"].items():
        print(f"{issue}: {count}")
        for row in findings[findings["issue"] == issue].head(SHOWN).itertuples():
            paired = f" ~ {row.paired_id}, {row.reason}" if row.paired_id else ""
            suggested = f" -> {row.suggested_label}" if row.suggested_label else ""
            print(f"  {row.score:.3f}  {row.id}{paired}  ({row.split}, {row.given_label}{suggested})")
    for split, count in summary["leaked_from_train"].items():
        if count:
            print(f"warning: {count} {split} images have a near-duplicate in train: their accuracy is inflated")
    paths = config.paths
    print(f"\nwritten: {paths.audit_csv}, {paths.audit_md}, {paths.audit_html}")


main = cli.command(AuditConfig, "audit.write:write_audit", show, prog="python -m audit", description=__doc__)

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The report before and after issue 32, on one cache (BENCHMARKS.md, issue 32's section).
#   bench/experiments/report_before_after.sh OUT OLD_CODE [RECIPE]
# OUT: a folder holding features.h5 (make features). OLD_CODE: a checkout of the code before
# (git archive 600e707 | tar -x -C OLD_CODE). RECIPE: fine-tuning's recipe (default searched), or
# none for no fine-tuning.
# Folder OUT gets cheap heads (one seed), fine-tuning (one short run), then k-NN (added after
# fine-tuning, as in the issue) and an audit; OUT-x holds the same features.h5 (a hard link)
# and logistic regression fitted without the audit's leaked train images. Both versions report
# RUNS="OUT OUT-x" and RUNS="OUT-x OUT" into OUT-report-{old,new}-{ab,ba}.
set -euo pipefail
out=$1 old=$(realpath "$2") recipe=${3:-searched}
py=$(pwd)/.venv/bin/python  # not realpath: that would leave the virtualenv
heads=(--seeds 1 --jobs 1 --dense-recipe tutorial --epochs 10 --folds 3)
$py -m classify --out "$out" --heads logreg,dense "${heads[@]}" --quiet
if [ "$recipe" != none ]; then
  $py -m finetune --out "$out" --recipe "$recipe" --epochs 1 --seeds 1 --batch 32 --search-steps 10 \
    --search-rates 1e-5,1e-4 --search-depths 100 --quiet
fi
$py -m classify --out "$out" --heads knn "${heads[@]}" --quiet  # added after fine-tuning
$py -m audit --out "$out" --jobs 1 --quiet
mkdir -p "$out-x" && ln -f "$out/features.h5" "$out-x/"
$py -m classify --out "$out-x" --heads logreg "${heads[@]}" --exclude "$out/audit_leakage.csv" --quiet
for version in old new; do
  code=$([ $version = old ] && echo "$old" || pwd)
  for order in ab ba; do
    runs=$([ $order = ab ] && echo "$out,$out-x" || echo "$out-x,$out")
    (cd "$code" && $py -m report --out "$out-report-$version-$order" --runs "$runs" --quiet)
  done
done

#!/usr/bin/env bash
# Ranking quality of the relation-aware segment reward (issue 18): every reward's top-1 of K=4 per task on the
# held-out test split, base model, the seeds of docs/experiments.md's ranking table. One eval per seed.
#   bash experiments/relation-ranking.sh OUT [SEED...]      (default seeds 1235 2028)
# FR overrides the command (default: dotnet run of the Release build). Results: OUT/seedS/eval.md (table per task).
set -euo pipefail
OUT=${1:?usage: relation-ranking.sh OUT [SEED...]}
shift
[ $# -gt 0 ] && SEEDS=("$@") || SEEDS=(1235 2028)
FR=${FR:-"dotnet run -c Release --project $(dirname "$0")/../host/FineRewards.Cli --"}
mkdir -p "$OUT"
$FR shapes-prompts --split test --out "$OUT/test-prompts.txt" >/dev/null
for seed in "${SEEDS[@]}"; do
  [ -f "$OUT/seed$seed/eval.json" ] || $FR eval --pack shapes --prompts "$OUT/test-prompts.txt" --k 4 --seed "$seed" \
    --rewards caption,sam,sam_count,sam_relation,clip,random --combine-sets caption+sam,caption+sam_relation \
    --threads 1 --out "$OUT/seed$seed" > "$OUT/seed$seed.log" 2>&1
  echo "[$(date -u +%H:%M:%S)] seed $seed done: $OUT/seed$seed/eval.md"
done

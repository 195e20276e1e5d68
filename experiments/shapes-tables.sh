#!/usr/bin/env bash
# Reproduces docs/experiments.md: the paper's Table 1 and Table 6 analogues, the segment-reward variants
# and the ranking quality of each reward, on the built-in shapes pack, with ground truth.
#
#   bash experiments/shapes-tables.sh [OUT] [SEED]      (default OUT=runs/experiments, SEED=1234)
#
# Every row uses the same training prompts, seeds, K, rounds and LoRA budget; only the selection differs.
# Rows run in two parallel queues with one libtorch thread each (faster than one queue with two threads
# on a 2-core machine). A finished step is skipped on a rerun (train --resume), so the script can be
# interrupted and started again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/experiments}
SEED=${2:-1234}
K=${K:-4}
ROUNDS=${ROUNDS:-2}
TRAIN_PER_TASK=${TRAIN_PER_TASK:-6}
EVAL_K=${EVAL_K:-2}
LR=${LR:-1e-4}
TEST_EVERY=${TEST_EVERY:-1}   # >1 keeps every n-th held-out prompt (smoke runs only)
ONLY=${ONLY:-}                # space-separated row names to run (default: all), e.g. ONLY="arl random" for another seed
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"

if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi

# Training prompts: TRAIN_PER_TASK evenly spaced prompts of each task's train split. Held-out: the test split.
: > "$OUT/train-prompts.txt"
for task in single two_objects counting position; do
  "$FR" shapes-prompts --split train --task "$task" --out "$OUT/train-$task.txt" >/dev/null
  awk -v n="$TRAIN_PER_TASK" '!/^#/ && NF { line[++c] = $0 } END { for (i = 0; i < n; i++) print line[1 + int(i * c / n)] }' \
    "$OUT/train-$task.txt" >> "$OUT/train-prompts.txt"
done
"$FR" shapes-prompts --split test --out "$OUT/test-all.txt" >/dev/null
awk -v n="$TEST_EVERY" '!/^#/ && NF && (++c % n == 1 || n == 1)' "$OUT/test-all.txt" > "$OUT/test-prompts.txt"

# name | train options (rewards and selection)
ROWS=(
  "random|--rewards caption,sam --combine random"
  "clip|--rewards clip --combine single:clip"
  "caption|--rewards caption --combine single:caption"
  "sam|--rewards sam --combine single:sam"
  "arl|--rewards caption,sam --combine arl"
  "sum|--rewards caption,sam --combine sum"
  "normalized|--rewards caption,sam --combine normalized"
  "arl_clip|--rewards caption,sam,clip --combine arl"
  "arl_coverage|--rewards caption,sam_coverage --combine arl"
  "arl_count|--rewards caption,sam_count --combine arl"
)

run_row() {
  local name=$1 opts=$2 dir="$OUT/$1"
  local resume=""
  [ -f "$dir/train/run.json" ] && resume="--resume"
  if ! grep -q '"status": "completed"' "$dir/train/run.json" 2>/dev/null; then
    # shellcheck disable=SC2086
    "$FR" train --pack shapes --prompts "$OUT/train-prompts.txt" --rounds "$ROUNDS" --k "$K" $opts --seed "$SEED" \
      --lr "$LR" --previews 4 --threads 1 --out "$dir/train" $resume > "$dir.train.log" 2>&1
  fi
  local lora; lora=$(printf '%s/train/loras/round%02d.safetensors' "$dir" "$ROUNDS")
  [ -f "$dir/eval-test/eval.json" ] || "$FR" eval --pack shapes --prompts "$OUT/test-prompts.txt" --k "$EVAL_K" --seed "$SEED" \
    --lora "$lora" --rewards caption,sam,clip --threads 1 --out "$dir/eval-test" > "$dir.eval.log" 2>&1
  echo "[$(date -u +%H:%M:%S)] $name done"
}

base_evals() {
  # The base model on the held-out prompts with the rows' eval settings, then every reward's top-1 of K=4.
  [ -f "$OUT/base/eval-test/eval.json" ] || "$FR" eval --pack shapes --prompts "$OUT/test-prompts.txt" --k "$EVAL_K" --seed "$SEED" \
    --rewards caption,sam,clip --threads 1 --out "$OUT/base/eval-test" > "$OUT/base.eval.log" 2>&1
  [ -f "$OUT/ranking/eval.json" ] || "$FR" eval --pack shapes --prompts "$OUT/test-prompts.txt" --k 4 --seed "$((SEED + 1))" \
    --rewards caption,sam,sam_coverage,sam_count,clip,random \
    --combine-sets caption+sam,caption+sam+clip,caption+sam_coverage,caption+sam_count --threads 1 --out "$OUT/ranking" > "$OUT/ranking.log" 2>&1
  echo "[$(date -u +%H:%M:%S)] base and ranking evals done"
}

mkdir -p "$OUT/base"
# A failed row is reported and skipped (its log says why); rerunning the script retries it.
queue() { local i; for i in "$@"; do IFS='|' read -r name opts <<< "${ROWS[$i]}"; [ -z "$ONLY" ] || [[ " $ONLY " == *" $name "* ]] || continue; mkdir -p "$OUT/$name"; run_row "$name" "$opts" || echo "[$(date -u +%H:%M:%S)] $name FAILED: see $OUT/$name.*.log"; done; }
# Two queues of similar cost; the base/ranking evals go with the shorter one.
( queue 4 0 2 6 8 ) &
( base_evals || echo "base evals FAILED: see $OUT/base.eval.log, $OUT/ranking.log"; queue 3 1 5 7 9 ) &
wait

"$FR" report "$OUT"/*/train --out "$OUT/report" > /dev/null
bash experiments/shapes-collect.sh "$OUT" > "$OUT/tables.md"
echo "tables: $OUT/tables.md, plots and grids: $OUT/report/"

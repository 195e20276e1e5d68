#!/usr/bin/env bash
# Issue 18's grid: what makes reward-ranked LoRA rounds help or harm, one cause per row, on the shipped
# shapes pack with its ground truth. Every row of a seed uses the same 64 training prompts, K = 8 and the
# same round-1 candidates (the base model's, generated and scored once per seed, then copied into each
# row's run folder: `train --resume` reuses them and only re-selects); every held-out eval uses the test
# split, K = 2, eval seed = run seed. Rows and seeds run in parallel queues, one libtorch thread each.
#
#   bash experiments/rounds.sh [OUT]          (default OUT=runs/rounds)
#   SEEDS="1 2 3" FULL_SEEDS="1" bash experiments/rounds.sh runs/rounds
#
# FULL_SEEDS get every row; the other SEEDS get the essential ones (recipe, random, oracle). A finished
# step is skipped on a rerun. Tables: bash experiments/rounds-collect.sh OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/rounds}
SEEDS=${SEEDS:-"1 2 3"}
FULL_SEEDS=${FULL_SEEDS:-"1"}
THREE_ROUNDS_SEEDS=${THREE_ROUNDS_SEEDS:-"1"}
export OMP_WAIT_POLICY=PASSIVE   # spinning OpenMP threads cost far more than they save on a shared 2-core machine
mkdir -p "$OUT"
if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/progress.log"; }

# Prompts: 64 training prompts evenly spaced through each task's train split (8 single, 16 two objects,
# 16 counting, 24 position: the test split is mostly position); held-out: the whole test split (112).
if [ ! -f "$OUT/train64.txt" ]; then
  : > "$OUT/train64.txt.tmp"
  for tn in single:8 two_objects:16 counting:16 position:24; do
    t=${tn%%:*}; n=${tn##*:}
    "$FR" shapes-prompts --split train --task "$t" --out "$OUT/train-$t.txt" >/dev/null
    awk -v n="$n" '!/^#/ && NF { line[++c] = $0 } END { for (i = 0; i < n; i++) print line[1 + int(i * c / n)] }' "$OUT/train-$t.txt" >> "$OUT/train64.txt.tmp"
  done
  mv "$OUT/train64.txt.tmp" "$OUT/train64.txt"
fi
if [ ! -f "$OUT/test.txt" ]; then
  "$FR" shapes-prompts --split test --out "$OUT/test-all.txt" >/dev/null
  awk '!/^#/ && NF' "$OUT/test-all.txt" > "$OUT/test.txt"
fi
# Renders row: one exact render per training prompt as extra data (NAME.png + NAME.json).
if [ ! -d "$OUT/renders64" ]; then
  "$FR" render-shapes --prompts "$OUT/train64.txt" --k 1 --seed 7 --out "$OUT/renders64.tmp" >/dev/null
  i=0
  while IFS= read -r line; do
    n=$(printf 'p%04d_c0' "$i")
    printf '{"prompt": "%s", "source": "render-shapes --seed 7"}\n' "$line" > "$OUT/renders64.tmp/$n.json"
    i=$((i + 1))
  done < "$OUT/train64.txt"
  mv "$OUT/renders64.tmp" "$OUT/renders64"
fi

COMMON="--pack shapes --prompts $OUT/train64.txt --k 8 --rewards caption,sam --previews 0 --threads 1"
RECIPE="--train-on latents --prompt-dropout 0.1 --steps-per-image 3 --lr 1e-4"
# name | rounds | options
ESSENTIAL=(
  "recipe|1|--combine arl $RECIPE"
  "random|1|--combine random $RECIPE"
  "oracle|1|--combine oracle $RECIPE"
)
FULL=(
  "reencoded|1|--combine arl --train-on images --steps-per-image 10 --lr 1e-4"
  "latents|1|--combine arl --train-on latents --steps-per-image 10 --lr 1e-4"
  "latents_dropout|1|--combine arl --train-on latents --prompt-dropout 0.1 --steps-per-image 10 --lr 1e-4"
  "renders|1|--combine arl $RECIPE --filter-top 0.01 --extra-data $OUT/renders64"
  "recipe_filter|1|--combine arl $RECIPE --filter-top 0.5"
)

eval_base() {
  local seed=$1 dir="$OUT/base-s$1"
  [ -f "$dir/eval.json" ] || "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed "$seed" --rewards caption,sam --threads 1 --out "$dir" > "$dir.log" 2>&1
  log "s$seed base eval done"
}

row() {
  local seed=$1 name=$2 rounds=$3 opts=$4 dir="$OUT/s$1/$2"
  local cache="$OUT/s$seed/round1-cache"
  mkdir -p "$dir"
  if [ ! -f "$dir/train/run.json" ] && [ -d "$cache/rounds" ]; then
    mkdir -p "$dir/train" && cp -r "$cache/rounds" "$dir/train/"
  fi
  if ! grep -q '"status": "completed"' "$dir/train/run.json" 2>/dev/null; then
    local resume=""; [ -d "$dir/train" ] && resume="--resume"
    # shellcheck disable=SC2086
    "$FR" train $COMMON --rounds "$rounds" --seed "$seed" $opts --out "$dir/train" $resume > "$dir/train.log" 2>&1 || { log "s$seed $name train FAILED (see $dir/train.log)"; return 0; }
  fi
  if [ ! -d "$cache/rounds" ]; then
    # The base model's round 1 (candidates, latents, scores): every later row of this seed starts from it.
    mkdir -p "$cache.tmp/rounds/r01"
    for p in "$dir"/train/rounds/r01/p*; do
      mkdir -p "$cache.tmp/rounds/r01/$(basename "$p")"
      cp "$p"/c*.png "$p"/*.safetensors "$p"/candidates.json "$p"/scores.json "$cache.tmp/rounds/r01/$(basename "$p")/" 2>/dev/null || cp "$p"/* "$cache.tmp/rounds/r01/$(basename "$p")/"
    done
    mv "$cache.tmp" "$cache"
  fi
  local lora; lora=$(printf '%s/train/loras/round%02d.safetensors' "$dir" "$rounds")
  [ -f "$dir/eval/eval.json" ] || "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed "$seed" --lora "$lora" --rewards caption,sam \
    --threads 1 --out "$dir/eval" > "$dir/eval.log" 2>&1 || { log "s$seed $name eval FAILED"; return 0; }
  log "s$seed $name done"
}

queue() {
  local seed=$1; shift
  for spec in "$@"; do
    IFS='|' read -r name rounds opts <<< "$spec"
    row "$seed" "$name" "$rounds" "$opts"
  done
}

# Queues: the base evals; per seed the essential rows (the first of them makes the round-1 cache); for
# FULL_SEEDS the other rows and the three-round recipe, each in its own queue once the cache exists.
wait_cache() { while [ ! -d "$OUT/s$1/round1-cache" ]; do sleep 20; done; }
for seed in $SEEDS; do mkdir -p "$OUT/s$seed"; done
( for seed in ${BASE_SEEDS:-$SEEDS}; do eval_base "$seed"; done ) &
for seed in $SEEDS; do
  queue "$seed" "${ESSENTIAL[@]}" &
  if [[ " $FULL_SEEDS " == *" $seed "* ]]; then
    ( wait_cache "$seed"; queue "$seed" "${FULL[@]}" ) &
  fi
  if [[ " $THREE_ROUNDS_SEEDS " == *" $seed "* ]]; then
    ( wait_cache "$seed"; queue "$seed" "recipe_3rounds|3|--combine arl $RECIPE" ) &
  fi
done
wait
log "all rows done"

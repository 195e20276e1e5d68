#!/usr/bin/env bash
# Issue 18, second grid: does any training data, at any budget, move held-out accuracy, and how many
# training prompts does a gain take? Rows differ in the number of training prompts N (evenly spaced
# through the train split), the data (exact renders, or a round's selected candidates under a selection
# rule) and the update budget (steps per pair, learning rate, rank, batch). Held-out is always the test
# split, K = 2, eval seed = run seed, as in experiments/rounds.sh. Rows run one after another with
# --threads 2 (the machine has two cores).
#
#   bash experiments/rounds-scale.sh OUT [ROW...]      (no ROW: the grid of docs/experiments.md section 1)
#   bash experiments/rounds-scale.sh OUT targets       (the LoRA-targets grid of docs/experiments.md section 1a)
#
# A ROW is NAME|SEED|N|ROUNDS|SOURCE|OPTIONS, SOURCE being
#   renders:R     R exact renders per training prompt as extra data (no generation: the run itself has one
#                 prompt, K = 2, and its RAFT filter keeps that one selected pair beside the N x R renders)
#   arl|random|oracle|... a --combine rule: K = 8 candidates per training prompt, rewards caption + sam
#                 (or --rewards in OPTIONS: the cached candidates are then scored again); round 1's candidates are generated and scored once per (seed, N)
#                 and reused by every rule (`train --resume` re-selects them)
# e.g. "r886-b8|1|886|1|renders:1|--steps-per-image 1 --batch-size 8 --lr 5e-4". Results land in
# OUT/s$SEED/NAME/{train,eval}, the base evals in OUT/base-s$SEED; bash experiments/rounds-collect.sh OUT
# tabulates them. A finished step is skipped on a rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: rounds-scale.sh OUT [ROW...]}; shift
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"
if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi
THREADS=${THREADS:-2}
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/progress.log"; }

[ -f "$OUT/train-all.txt" ] || { "$FR" shapes-prompts --split train --out "$OUT/train-all.tmp" >/dev/null && awk '!/^#/ && NF' "$OUT/train-all.tmp" > "$OUT/train-all.txt" && rm "$OUT/train-all.tmp"; }
[ -f "$OUT/test.txt" ] || { "$FR" shapes-prompts --split test --out "$OUT/test-all.tmp" >/dev/null && awk '!/^#/ && NF' "$OUT/test-all.tmp" > "$OUT/test.txt" && rm "$OUT/test-all.tmp"; }
head -n 1 "$OUT/train-all.txt" > "$OUT/one.txt"

# N training prompts. N = 64: experiments/rounds.sh's set (8 single, 16 two objects, 16 counting, 24 position,
# evenly spaced through each task's train split), so that grid's round-1 candidates can be copied in as
# OUT/sSEED/cache-n64 instead of generated again; other N: evenly spaced through the whole train split (886:
# all of it).
prompts() {
  local n=$1 f="$OUT/train$1.txt"
  if [ ! -f "$f" ]; then
    if [ "$n" = 64 ]; then
      : > "$f.tmp"
      for tn in single:8 two_objects:16 counting:16 position:24; do
        "$FR" shapes-prompts --split train --task "${tn%%:*}" --out "$OUT/train-${tn%%:*}.txt" >/dev/null
        awk -v n="${tn##*:}" '!/^#/ && NF { line[++c] = $0 } END { for (i = 0; i < n; i++) print line[1 + int(i * c / n)] }' "$OUT/train-${tn%%:*}.txt" >> "$f.tmp"
      done
    else
      awk -v n="$n" '{ line[++c] = $0 } END { if (n > c) n = c; for (i = 0; i < n; i++) print line[1 + int(i * c / n)] }' "$OUT/train-all.txt" > "$f.tmp"
    fi
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# R exact renders per prompt of trainN as an extra-data folder (NAME.png + NAME.json).
renders() {
  local n=$1 r=$2 dir="$OUT/renders$1x$2" list
  list=$(prompts "$n")
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.tmp"
    "$FR" render-shapes --prompts "$list" --k "$r" --seed 7 --out "$dir.tmp" >/dev/null
    local i=0
    while IFS= read -r line; do
      for ((c = 0; c < r; c++)); do
        printf '{"prompt": "%s", "source": "render-shapes --seed 7"}\n' "$line" > "$dir.tmp/$(printf 'p%04d_c%d' "$i" "$c").json"
      done
      i=$((i + 1))
    done < "$list"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

eval_base() {
  local seed=$1 dir="$OUT/base-s$1"
  [ -f "$dir/eval.json" ] && return 0
  log "s$seed base eval"
  "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed "$seed" --rewards caption,sam --threads "$THREADS" --out "$dir" > "$dir.log" 2>&1
}

row() {
  IFS='|' read -r name seed n rounds source opts <<< "$1"
  local dir="$OUT/s$seed/$name"
  eval_base "$seed"
  mkdir -p "$dir"
  if ! grep -q '"status": "completed"' "$dir/train/run.json" 2>/dev/null; then
    local args resume=""
    if [[ $source == renders:* ]]; then
      args="--prompts $OUT/one.txt --k 2 --combine arl --filter-top 0.01 --extra-data $(renders "$n" "${source#renders:}")"
    else
      args="--prompts $(prompts "$n") --k 8 --combine $source"
      # Round 1 of every rule of this (seed, N) starts from the same base-model candidates.
      local cache="$OUT/s$seed/cache-n$n"
      if [ ! -d "$dir/train" ] && [ -d "$cache/rounds" ]; then
        mkdir -p "$dir/train" && cp -r "$cache/rounds" "$dir/train/"
        # Other rewards than the cache's: keep the candidates, score them again.
        [[ " $opts " == *" --rewards "* ]] && rm -f "$dir"/train/rounds/r01/p*/scores.json
      fi
    fi
    [ -d "$dir/train" ] && resume="--resume"
    log "s$seed $name train ($source, N=$n, $opts)"
    # shellcheck disable=SC2086
    [[ " $opts " == *" --rewards "* ]] || args="$args --rewards caption,sam"
    "$FR" train --pack shapes --previews 0 --threads "$THREADS" --rounds "$rounds" --seed "$seed" \
      $args $opts --out "$dir/train" $resume > "$dir/train.log" 2>&1 || { log "s$seed $name train FAILED (see $dir/train.log)"; return 0; }
    if [[ $source != renders:* ]] && [ ! -d "$OUT/s$seed/cache-n$n" ]; then
      local cache="$OUT/s$seed/cache-n$n"
      rm -rf "$cache.tmp"; mkdir -p "$cache.tmp/rounds/r01"
      for p in "$dir"/train/rounds/r01/p*; do
        mkdir -p "$cache.tmp/rounds/r01/$(basename "$p")"
        cp "$p"/c*.png "$p"/*.safetensors "$p"/candidates.json "$p"/scores.json "$cache.tmp/rounds/r01/$(basename "$p")/"
      done
      mv "$cache.tmp" "$cache"
    fi
  fi
  local lora; lora=$(printf '%s/train/loras/round%02d.safetensors' "$dir" "$rounds")
  if [ ! -f "$dir/eval/eval.json" ]; then
    log "s$seed $name eval"
    local started=$SECONDS
    "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed "$seed" --lora "$lora" --rewards caption,sam \
      --threads "$THREADS" --out "$dir/eval" > "$dir/eval.log" 2>&1 || { log "s$seed $name eval FAILED"; return 0; }
    echo $((SECONDS - started)) > "$dir/eval-seconds.txt"
  fi
  log "s$seed $name done: $(jq -r '[.summary.by_task[] | .accuracy] | add / length * 1000 | round / 1000' "$dir/eval/eval.json") (base $(jq -r '[.summary.by_task[] | .accuracy] | add / length * 1000 | round / 1000' "$OUT/base-s$seed/eval.json"))"
}

# docs/experiments.md section 1. The n64 rows reuse the round-1 candidates of experiments/rounds.sh when its
# OUT/sSEED/round1-cache is copied to this OUT/sSEED/cache-n64 (otherwise the first rule row of a seed makes them).
BIG="--steps-per-image 10 --lr 5e-4 --lora-rank 16"
MID="--steps-per-image 3 --lr 5e-4 --lora-rank 16"
REL="--rewards caption,sam_relation"
GRID=(
  "r886-spi2-lr5e-4-r16|1|886|1|renders:1|--steps-per-image 2 --lr 5e-4 --lora-rank 16"
  "r886-spi2-lr1e-4-cos|1|886|1|renders:1|--steps-per-image 2 --lr 1e-4 --lr-schedule cosine"
  "r886-b4-lr3e-4-r16-cos|1|886|1|renders:1|--steps-per-image 1 --batch-size 4 --lr 3e-4 --lora-rank 16 --lr-schedule cosine"
  "r886-b16-lr3e-4-r16-cos|1|886|1|renders:1|--steps-per-image 1 --batch-size 16 --lr 3e-4 --lora-rank 16 --lr-schedule cosine"
  "n64-big-renders|1|64|1|renders:1|$BIG"
  "n64-big-oracle-images|1|64|1|oracle|$BIG --train-on images"
  "n64-big-random-images|1|64|1|random|$BIG --train-on images"
  "n64-big-arl_filter|1|64|1|arl|$BIG --filter-top 0.5"
  "n64-mid-oracle|1|64|1|oracle|$MID"
  "n64-mid-random|1|64|1|random|$MID"
  "n64-mid-arl|1|64|1|arl|$MID"
)
for seed in 1 2 3; do
  GRID+=(
    "n64-big-oracle|$seed|64|1|oracle|$BIG"
    "n64-big-arl|$seed|64|1|arl|$BIG"
    "n64-big-random|$seed|64|1|random|$BIG"
    "n64-big-arl_rel|$seed|64|1|arl|$BIG $REL"
    "n64-recipe-arl_rel|$seed|64|1|arl|$REL"
  )
  [ "$seed" = 1 ] || GRID+=("n64-recipe-oracle|$seed|64|1|oracle|")
done

# docs/experiments.md section 1a: which layers the LoRA reaches (--lora-targets), at the budgets that moved the
# model in section 1. Seeds 2 and 3 only for a recipe that gained >= +0.02 on seed 1 (see the section).
B4="--steps-per-image 1 --batch-size 4 --lr 3e-4 --lora-rank 16 --lr-schedule cosine"
TARGETS=(
  "r886-b4-lr3e-4-r16-cos-unet|1|886|1|renders:1|$B4 --lora-targets unet"
  "n64-big-oracle-unet|1|64|1|oracle|$BIG --lora-targets unet"
  "n64-big-arl-unet|1|64|1|arl|$BIG --lora-targets unet"
  "r886-b4-lr3e-4-r16-cos-unet_text|1|886|1|renders:1|$B4 --lora-targets unet+text"
  "n64-big-renders-unet|1|64|1|renders:1|$BIG --lora-targets unet"
  "n64-big-oracle-unet_text|1|64|1|oracle|$BIG --lora-targets unet+text"
  "n64-recipe-arl-unet|1|64|1|arl|--lora-targets unet"
  "r886-spi2-lr5e-4-r16-unet|1|886|1|renders:1|--steps-per-image 2 --lr 5e-4 --lora-rank 16 --lora-targets unet"
)
if [ "${1:-}" = targets ]; then set -- "${TARGETS[@]}"; fi
[ $# -gt 0 ] || set -- "${GRID[@]}"
for spec in "$@"; do row "$spec"; done

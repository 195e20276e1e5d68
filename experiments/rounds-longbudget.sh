#!/usr/bin/env bash
# Issue 18, section 1a'' of docs/experiments.md: a long budget per pair (100 steps per pair, lr 1e-3,
# rank 16, prompt dropout 0.1) on the 64 training prompts of the scale grid, seed 1, with three kinds of
# data: exact renders (A), the oracle's picks of the base model's candidates learnt from their exact
# latents (B) or from their re-encoded PNGs (C). Each LoRA is evaluated on the training prompts (eval
# seed 101, K = 4) and on the held-out test split (seed 1, K = 2); only the ground truth counts (no rewards).
#
#   bash experiments/rounds-longbudget.sh OUT        OUT = experiments/rounds-scale.sh's folder (renders64x1,
#                                                    s1/cache-n64, train64.txt, one.txt, test.txt must exist)
# Results: OUT/long/{A,B,C}/{train,evtrain,evtest}; a line per result in OUT/long/progress.log.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: rounds-longbudget.sh OUT}
export OMP_WAIT_POLICY=PASSIVE
if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi
dir="$OUT/long"; mkdir -p "$dir"
budget=(--steps-per-image 100 --lr 1e-3 --lora-rank 16 --prompt-dropout 0.1 --rewards caption,sam --previews 0 --threads 2 --seed 1 --rounds 1)
acc() { jq -r '[.summary.by_task[] | .accuracy] | add / length * 1000 | round / 1000' "$1/eval.json"; }
tasks() { jq -r '[.summary.by_task | to_entries[] | "\(.key)=\(.value.accuracy * 100 | round / 100)"] | join(" ")' "$1/eval.json"; }
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$dir/progress.log"; }

train_row() {
  local row=$1; shift
  [ -f "$dir/$row/train/loras/round01.safetensors" ] && return 0
  case $row in
    A) "$FR" train --pack shapes --prompts "$OUT/one.txt" --k 2 --filter-top 0.01 --extra-data "$OUT/renders64x1" "${budget[@]}" --out "$dir/A/train" > "$dir/A.train.log" 2>&1 ;;
    *) mkdir -p "$dir/$row/train" && cp -r "$OUT/s1/cache-n64/rounds" "$dir/$row/train/"
       "$FR" train --pack shapes --prompts "$OUT/train64.txt" --k 8 --combine oracle "$@" "${budget[@]}" --out "$dir/$row/train" --resume > "$dir/$row.train.log" 2>&1 ;;
  esac
  log "$row trained: $(jq -c '.rounds[0] | {training_steps, training_pairs}' "$dir/$row/train/run.json")"
}

eval_row() {
  local row=$1 lora="$dir/$1/train/loras/round01.safetensors"
  [ -f "$dir/$row/evtrain/eval.json" ] || { "$FR" eval --pack shapes --prompts "$OUT/train64.txt" --k 4 --seed 101 --lora "$lora" --rewards random --threads 2 --out "$dir/$row/evtrain" > "$dir/$row.evtrain.log" 2>&1; log "$row training prompts $(acc "$dir/$row/evtrain") $(tasks "$dir/$row/evtrain")"; }
  [ -f "$dir/$row/evtest/eval.json" ] || { "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed 1 --lora "$lora" --rewards random --threads 2 --out "$dir/$row/evtest" > "$dir/$row.evtest.log" 2>&1; log "$row held-out $(acc "$dir/$row/evtest") $(tasks "$dir/$row/evtest")"; }
}

train_row A; eval_row A
train_row B; eval_row B
train_row C --train-on images; eval_row C

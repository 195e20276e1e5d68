#!/usr/bin/env bash
# Issue 18: do rounds teach the prompts they trained on? Accuracy on the N training prompts themselves
# (OUT/train64.txt), with an eval seed the round never drew (default 101) and K = 4, of the base model
# and of each row's round-1 LoRA in OUT/s$SEED/ROW (rows of experiments/rounds-scale.sh). No rewards are
# scored (`--rewards random`): only the ground truth counts here.
#
#   bash experiments/rounds-trainprompts.sh OUT SEED ROW...     e.g. runs/scale 1 n64-big-oracle n64-big-arl
#
# Results: OUT/trainprompts-s$SEED/{base,ROW}/eval.json; a line per row in OUT/trainprompts-s$SEED/progress.log.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: rounds-trainprompts.sh OUT SEED ROW...}; SEED=${2:?seed}; shift 2
EVAL_SEED=${EVAL_SEED:-101}; K=${K:-4}; THREADS=${THREADS:-1}
export OMP_WAIT_POLICY=PASSIVE
if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi
dir="$OUT/trainprompts-s$SEED"; mkdir -p "$dir"
for row in base "$@"; do
  [ -f "$dir/$row/eval.json" ] && continue
  lora=()
  [ "$row" != base ] && lora=(--lora "$OUT/s$SEED/$row/train/loras/round01.safetensors")
  "$FR" eval --pack shapes --prompts "$OUT/train64.txt" --k "$K" --seed "$EVAL_SEED" "${lora[@]}" --rewards random \
    --threads "$THREADS" --out "$dir/$row" > "$dir/$row.log" 2>&1
  echo "$(date -u +%H:%M:%S) $row $(jq -r '[.summary.by_task[] | .accuracy] | add / length * 1000 | round / 1000' "$dir/$row/eval.json") $(jq -r '[.summary.by_task | to_entries[] | "\(.key)=\(.value.accuracy * 100 | round / 100)"] | join(" ")' "$dir/$row/eval.json")" | tee -a "$dir/progress.log"
done

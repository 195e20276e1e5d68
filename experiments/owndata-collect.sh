#!/usr/bin/env bash
# Markdown tables from experiments/rounds-owndata.sh's folder: each row's LoRA on the training prompts (evtrain, against
# the base there: OUT/owndata/G/base-g4 when present, else the number given) and on the held-out split with each eval
# seed it ran (evtest = seed 1, evtest-sS = seed S), against the base model's eval of the same seed (OUT/base-sS), then
# the mean gain and its spread over the seeds; per task; the row's selection facts from run.json and its phase times.
#
#   bash experiments/owndata-collect.sh OUT ROW...      (e.g. runs/scale J1 J1s2 J1s3 J2 J3 J4)
set -euo pipefail
OUT=${1:?usage: owndata-collect.sh OUT ROW...}; shift
dir="$OUT/owndata"
macro='[.summary.by_task[] | .accuracy] | add / length'
tasks='[.summary.by_task.single.accuracy, .summary.by_task.two_objects.accuracy, .summary.by_task.counting.accuracy, .summary.by_task.position.accuracy] | map(. * 100 | round / 100 | tostring) | join(" / ")'
f3() { printf '%+.3f' "$1"; }

echo "| row | seed | pairs | pick correct | training prompts | held-out, eval seed 1 / 2 / 3 (vs base) | held-out gain, mean (spread) | held-out per task, seed 1 | train s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for row in "$@"; do
  run="$dir/$row/train/run.json"
  [ -f "$run" ] && [ "$(jq -r .status "$run")" = completed ] || { echo "| $row | not finished | | | | | | | |"; continue; }
  seed=$(jq -r '.options.seed // .seed // "?"' "$run")
  pairs=$(jq -r '[.rounds[].training_pairs] | map(tostring) | join(", ")' "$run")
  pick=$(jq -r '.rounds[0].metrics.overall.selected_accuracy * 1000 | round / 1000' "$run")
  trainp="-"
  [ -f "$dir/$row/evtrain/eval.json" ] && trainp=$(printf %.3f "$(jq -r "$macro" "$dir/$row/evtrain/eval.json")")
  cells=(); gains=()
  for s in 1 2 3; do
    e="$dir/$row/evtest/eval.json"; [ "$s" = 1 ] || e="$dir/$row/evtest-s$s/eval.json"
    if [ -f "$e" ] && [ -f "$OUT/base-s$s/eval.json" ]; then
      m=$(jq -r "$macro" "$e"); b=$(jq -r "$macro" "$OUT/base-s$s/eval.json"); g=$(awk -v m="$m" -v b="$b" 'BEGIN {print m - b}')
      cells+=("$(printf %.3f "$m") ($(f3 "$g"))"); gains+=("$g")
    else cells+=("-"); fi
  done
  summary="-"
  if [ ${#gains[@]} -gt 0 ]; then
    summary=$(printf '%s\n' "${gains[@]}" | awk '{s+=$1; if(NR==1||$1<lo)lo=$1; if(NR==1||$1>hi)hi=$1} END {printf "%+.3f (%+.3f .. %+.3f), %d seeds", s/NR, lo, hi, NR}')
  fi
  per="-"; [ -f "$dir/$row/evtest/eval.json" ] && per=$(jq -r "$tasks" "$dir/$row/evtest/eval.json")
  train=$(jq -r '[.[] | .train // empty] | map(round) | map(tostring) | join(" + ")' "$dir/$row/train/timings.json")
  echo "| $row | $seed | $pairs | $pick | $trainp | ${cells[0]} / ${cells[1]} / ${cells[2]} | $summary | $per | $train |"
done

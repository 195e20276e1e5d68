#!/usr/bin/env bash
# Markdown tables from the folders experiments/rounds.sh wrote: held-out accuracy (test split, K = 2) of the base
# model and of each row's LoRA, per seed and as mean and spread over the seeds that ran; per task; round-1 facts
# from run.json (accuracy of the selected images, pairs kept, optimiser steps), seconds per phase from timings.json
# (train) and eval-seconds.txt (the held-out eval, where the script recorded it),
# and the held-out images the LoRA fixed / broke against the base row of its seed (same noise, image by image).
#
#   bash experiments/rounds-collect.sh [OUT]     (default OUT=runs/rounds)
set -euo pipefail
OUT=${1:-runs/rounds}
macro='[.summary.by_task[] | .accuracy] | add / length'
tasks='[.summary.by_task.single.accuracy, .summary.by_task.two_objects.accuracy, .summary.by_task.counting.accuracy, .summary.by_task.position.accuracy] | map(. * 100 | round / 100 | tostring) | join(" | ")'
seeds=$(ls -d "$OUT"/base-s* 2>/dev/null | sed 's/.*base-s//' | sort -n)
rows=$(ls -d "$OUT"/s*/*/eval/ 2>/dev/null | xargs -n1 dirname | xargs -n1 basename | sort -u)

echo "### Per seed (mean of tasks; single | two objects | counting | position)"
echo
echo "| seed | row | held-out (mean of tasks) | vs base | single | two objects | counting | position | selected r1 correct | pairs | steps | train s | eval s | fixed / broken | eval images |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for s in $seeds; do
  b="$OUT/base-s$s/eval.json"
  [ -f "$b" ] || continue
  bm=$(jq -r "$macro" "$b")
  echo "| $s | base | $(printf %.3f "$bm") | | $(jq -r "$tasks" "$b") | | | | | | | $(jq -r '.summary.prompts * .summary.k' "$b") |"
  for r in $rows; do
    e="$OUT/s$s/$r/eval/eval.json"; run="$OUT/s$s/$r/train/run.json"; t="$OUT/s$s/$r/train/timings.json"
    [ -f "$e" ] || continue
    m=$(jq -r "$macro" "$e")
    sel=$(jq -r '.rounds[0].metrics.overall.selected_accuracy * 1000 | round / 1000' "$run")
    pairs=$(jq -r '[.rounds[].training_pairs] | map(tostring) | join(", ")' "$run")
    steps=$(jq -r '[.rounds[].training_steps] | map(tostring) | join(", ")' "$run")
    train=$(jq -r '[.[] | .train] | map(round | tostring) | join(", ")' "$t" 2>/dev/null || echo -)
    evals=$(cat "$OUT/s$s/$r/eval-seconds.txt" 2>/dev/null || echo -)
    flips=$(jq -rn --slurpfile a "$b" --slurpfile b "$e" '[$a[0].prompts[].candidates[].ground_truth.correct] as $x | [$b[0].prompts[].candidates[].ground_truth.correct] as $y
      | [range($x | length)] | "\(map(select($y[.] and ($x[.] | not))) | length) / \(map(select($x[.] and ($y[.] | not))) | length)"')
    echo "| $s | $r | $(printf %.3f "$m") | $(awk -v a="$m" -v b="$bm" 'BEGIN { printf "%+.3f", a - b }') | $(jq -r "$tasks" "$e") | $sel | $pairs | $steps | $train | $evals | $flips | $(jq -r '.summary.prompts * .summary.k' "$e") |"
  done
done

echo
echo "### Mean over seeds (gain = row - base of the same seed; spread = min .. max of the per-seed gains)"
echo
echo "| row | seeds | held-out mean | gain mean | gain spread |"
echo "| --- | --- | --- | --- | --- |"
for r in base $rows; do
  acc=(); gains=()
  for s in $seeds; do
    b="$OUT/base-s$s/eval.json"; [ -f "$b" ] || continue
    e=$([ "$r" = base ] && echo "$b" || echo "$OUT/s$s/$r/eval/eval.json")
    [ -f "$e" ] || continue
    m=$(jq -r "$macro" "$e"); bm=$(jq -r "$macro" "$b")
    acc+=("$m"); gains+=("$(awk -v a="$m" -v b="$bm" 'BEGIN { print a - b }')")
  done
  [ ${#acc[@]} -gt 0 ] || continue
  printf '| %s | %d | %s | %s | %s |\n' "$r" "${#acc[@]}" \
    "$(printf '%s\n' "${acc[@]}" | awk '{ s += $1 } END { printf "%.3f", s / NR }')" \
    "$(printf '%s\n' "${gains[@]}" | awk '{ s += $1 } END { printf "%+.3f", s / NR }')" \
    "$(printf '%s\n' "${gains[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%+.3f .. %+.3f", lo, hi }')"
done

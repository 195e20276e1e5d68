#!/usr/bin/env bash
# Markdown tables from the folders experiments/shapes-tables.sh wrote (run.json of each row's training run,
# eval.json of each row's held-out eval, the base model's eval and the ranking eval). Prints to stdout.
#
#   bash experiments/shapes-collect.sh [OUT]     (default OUT=runs/experiments)
set -euo pipefail
OUT=${1:-runs/experiments}
BASE="$OUT/base/eval-test/eval.json"
pct() { awk -v x="$1" 'BEGIN { printf "%.1f", 100 * x }'; }

echo "## Selection methods (same prompts, seeds, K, rounds and LoRA budget)"
echo
echo "Training prompts: accuracy of all K candidates in round 1 (base model) and round 2 (LoRA of round 1), and of the"
echo "image each round selected. Held-out: the test split generated with the last round's LoRA, same seeds as the base row;"
echo "fixed / broken = held-out images that are correct with the LoRA and wrong with the base model, and the reverse."
echo
echo "| row | rewards, selection | train acc. r1 -> r2 | selected r1 | held-out acc. | vs base | fixed / broken | two_objects | counting | position | caption | sam | clip |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row_line() {
  local name=$1 eval=$2 run=$3
  local sel="-" train="-" selected="-"
  if [ -n "$run" ] && [ -f "$run" ]; then
    sel=$(jq -r '"\(.rewards | map(.name) | join("+")), \(.options.combine)"' "$run")
    train=$(jq -r '[.rounds[].metrics.overall.accuracy] | map(. * 1000 | round / 10 | tostring) | join(" -> ")' "$run")
    selected=$(pct "$(jq -r '.rounds[0].metrics.overall.selected_accuracy' "$run")")
  fi
  local acc; acc=$(jq -r '.summary.overall.accuracy' "$eval")
  local flips; flips=$(jq -r --slurpfile b "$BASE" '
      def c: [.prompts[].candidates[].ground_truth.correct];
      ($b[0] | c) as $bc | c as $rc
      | [range(0; $bc | length)] as $i
      | "\($i | map(select(($bc[.] | not) and $rc[.])) | length) / \($i | map(select($bc[.] and ($rc[.] | not))) | length)"' "$eval")
  local base_acc; base_acc=$(jq -r '.summary.overall.accuracy' "$BASE")
  local delta; delta=$(awk -v a="$acc" -v b="$base_acc" 'BEGIN { printf "%+.1f", 100 * (a - b) }')
  local tasks; tasks=$(jq -r '[.summary.by_task.two_objects.accuracy, .summary.by_task.counting.accuracy, .summary.by_task.position.accuracy]
      | map(if . == null then "-" else (. * 1000 | round / 10 | tostring) end) | join(" | ")' "$eval")
  local means; means=$(jq -r '[.summary.reward_mean.caption, .summary.reward_mean.sam, .summary.reward_mean.clip] | map(. * 1000 | round / 1000 | tostring) | join(" | ")' "$eval")
  echo "| $name | $sel | $train | $selected | $(pct "$acc") | $delta | $flips | $tasks | $means |"
}
row_line base "$BASE" ""
for dir in "$OUT"/*/; do
  name=$(basename "$dir")
  [ -f "$dir/train/run.json" ] && [ -f "$dir/eval-test/eval.json" ] || continue
  row_line "$name" "$dir/eval-test/eval.json" "$dir/train/run.json"
done

if [ -f "$OUT/ranking/eval.json" ]; then
  R="$OUT/ranking/eval.json"
  echo
  echo "## Ranking quality: how often each reward's top-1 of K is correct (base model, held-out prompts)"
  echo
  jq -r '.summary | "\(.prompts) prompts x K=\(.k); chance (a random pick) = accuracy of all candidates = \(.overall.accuracy * 1000 | round / 10)%; at least one correct of K = \(.overall.any_correct * 1000 | round / 10)%."' "$R"
  echo
  echo "| reward or combination | top-1 correct | vs chance |"
  echo "| --- | --- | --- |"
  jq -r '.summary as $s | $s.top1_accuracy | to_entries[] | "| \(.key) | \(.value * 1000 | round / 10)% | \((.value - $s.overall.accuracy) * 1000 | round / 10 | if . >= 0 then "+\(.)" else tostring end) |"' "$R"
fi

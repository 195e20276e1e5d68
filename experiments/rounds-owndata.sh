#!/usr/bin/env bash
# Issue 18, section 1a''' of docs/experiments.md: why do the model's own (even ground-truth-correct) images harm
# the prompts they teach, and does a preference objective stop it? Rows on the 64 training prompts of the scale
# grid, seed 1 (I2s2: seed 2), rank 16, lr 1e-3, prompt dropout 0.1, each LoRA evaluated on the training prompts (eval seed 101,
# K = 4) and on the held-out test split (seed 1, K = 2); only the ground truth counts (no rewards).
#   D1   the oracle's picks, 100 steps per pair, only timesteps t >= 0.5 T (--min-timestep 0.5)
#   F15  the oracle's picks of candidates drawn at guidance 1.5 (not 4), 100 steps per pair
#   H1   the oracle's picks, batch 16 x 400 steps (the same images seen as often as at 100 steps per pair, less noise per step)
#   I1   Diffusion-DPO: the oracle's picks preferred to each prompt's last wrong candidate, batch 16 x 400 steps
#   I2   the same with ARL (caption+sam) picks preferred to ARL's last-ranked candidate
#   I3   I2 with 1,200 steps
#   I2s2 I2 trained with seed 2 on the seed-2 candidates (OUT/s2/cache-n64)
#   I4   I2 with --dpo-beta 500 (a larger allowed move)
#   I5   I2 with --dpo-pairs 4 (four preference pairs per prompt)
#   I6   I2 for two rounds (round 2 regenerates with round 1's LoRA); round 2's LoRA is evaluated
#   G    guidance: the base model and section 1a'''s row B evaluated on the training prompts at guidance 2 and 8
#   J1   DPO with ARL (caption+sam) over all 886 train prompts, K = 4 (the base model's candidates, generated here),
#        batch 16 x 800 steps; J1s2, J1s3 the same with seeds 2 and 3
#   J2   J1's candidates, oracle pick (a right one against a wrong one); J3 J1's candidates, random pick against a random other
#   J4   J1's candidates scored again with caption + sam_relation (the relation-aware segment reward), ARL, DPO
#   J5   J2 with --dpo-beta 500 (a four times larger allowed move, as I4, now over 886 prompts' oracle pairs)
#   J6   J4 with --dpo-beta 500 (J5's larger move, with the relation-aware reward's pairs instead of the oracle's)
#   J7   J4 with 2,400 steps (three times the budget, the same β)
#   ROW@S (e.g. J1@2): ROW's LoRA evaluated on the held-out split with eval seed S as well (the base's: OUT/base-sS)
#
#   bash experiments/rounds-owndata.sh OUT [ROW...]   OUT = experiments/rounds-scale.sh's folder (s1/cache-n64,
#                                                     train64.txt, test.txt; for G also OUT/long/B from rounds-longbudget.sh)
# Results: OUT/owndata/ROW/{train,evtrain,evtest}; a line per result in OUT/owndata/progress.log. A row whose run
# stopped part-way (its run.json not completed) goes on with train --resume; its log is appended to.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: rounds-owndata.sh OUT [ROW...]}; shift
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=(D1 F15 H1 I1 I2 I3 I2s2 I4 I5 I6 G)
export OMP_WAIT_POLICY=PASSIVE
if [ -z "${FR:-}" ]; then
  dotnet build -c Release host/FineRewards.Cli -v q -nologo >/dev/null
  FR="host/FineRewards.Cli/bin/Release/net10.0/finerewards"
fi
dir="$OUT/owndata"; mkdir -p "$dir"
common=(--lr 1e-3 --lora-rank 16 --prompt-dropout 0.1 --previews 0 --threads 2)
acc() { jq -r '[.summary.by_task[] | .accuracy] | add / length * 1000 | round / 1000' "$1/eval.json"; }
tasks() { jq -r '[.summary.by_task | to_entries[] | "\(.key)=\(.value.accuracy * 100 | round / 100)"] | join(" ")' "$1/eval.json"; }
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$dir/progress.log"; }

# train_row ROW SEED CACHE ARGS...: one round on the 64 prompts (886 with PROMPTS=886); CACHE=yes reuses the base model's
# candidates of that seed, CACHE=ROW2 those row ROW2 generated, CACHE=no generates.
train_row() {
  local row=$1 seed=$2 cache=$3 prompts=$OUT/train${PROMPTS:-64}.txt; shift 3
  [ -f "$dir/$row/train/run.json" ] && [ "$(jq -r .status "$dir/$row/train/run.json")" = completed ] && return 0
  case " $* " in *" --rounds "*) ;; *) set -- "$@" --rounds 1 ;; esac
  if [ -f "$dir/$row/train/run.json" ]; then   # a row stopped part-way: go on from what it saved
    set -- "$@" --resume
  else
    mkdir -p "$dir/$row/train"
    case $cache in
      yes) cp -r "$OUT/s$seed/cache-n64/rounds" "$dir/$row/train/"; set -- "$@" --resume ;;
      no) ;;
      *) cp -r "$dir/$cache/train/rounds" "$dir/$row/train/"; rm -rf "$dir/$row/train/rounds"/r*/selection* ; set -- "$@" --resume ;;
    esac
  fi
  "$FR" train --pack shapes --prompts "$prompts" --seed "$seed" --k "${K:-8}" --rewards "${REWARDS:-caption,sam}" "${common[@]}" "$@" --out "$dir/$row/train" >> "$dir/$row.train.log" 2>&1
  log "$row trained: $(jq -c '[.rounds[] | {round, training_steps, training_pairs}]' "$dir/$row/train/run.json"), $(jq -c . "$dir/$row/train/timings.json")"
}

# eval_row ROW [EVAL ARGS...]: the row's LoRA on the training prompts and on the held-out split.
eval_row() {
  local row=$1 lora
  lora="$dir/$row/train/$(jq -r '.rounds[-1].checkpoint' "$dir/$row/train/run.json")"   # the last round's LoRA
  [ -f "$dir/$row/evtrain/eval.json" ] || { "$FR" eval --pack shapes --prompts "$OUT/train64.txt" --k 4 --seed 101 --lora "$lora" --rewards random --threads 2 --out "$dir/$row/evtrain" > "$dir/$row.evtrain.log" 2>&1; log "$row training prompts $(acc "$dir/$row/evtrain") $(tasks "$dir/$row/evtrain")"; }
  [ -f "$dir/$row/evtest/eval.json" ] || { "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed 1 --lora "$lora" --rewards random --threads 2 --out "$dir/$row/evtest" > "$dir/$row.evtest.log" 2>&1; log "$row held-out $(acc "$dir/$row/evtest") $(tasks "$dir/$row/evtest")"; }
}

# heldout_seed ROW SEED: the row's LoRA on the held-out split with another eval seed (compare with OUT/base-sSEED).
heldout_seed() {
  local row=$1 seed=$2 lora
  lora="$dir/$row/train/$(jq -r '.rounds[-1].checkpoint' "$dir/$row/train/run.json")"
  [ -f "$dir/$row/evtest-s$seed/eval.json" ] && return 0
  "$FR" eval --pack shapes --prompts "$OUT/test.txt" --k 2 --seed "$seed" --lora "$lora" --rewards random --threads 2 --out "$dir/$row/evtest-s$seed" > "$dir/$row.evtest-s$seed.log" 2>&1
  log "$row held-out, eval seed $seed: $(acc "$dir/$row/evtest-s$seed") $(tasks "$dir/$row/evtest-s$seed") (base $(acc "$OUT/base-s$seed"))"
}

# guidance_eval NAME GUIDANCE [--lora X]: the training prompts at another guidance scale.
guidance_eval() {
  local name=$1 g=$2; shift 2
  [ -f "$dir/G/$name/eval.json" ] && return 0
  "$FR" eval --pack shapes --prompts "$OUT/train64.txt" --k 4 --seed 101 --guidance "$g" "$@" --rewards random --threads 2 --out "$dir/G/$name" > "$dir/G.$name.log" 2>&1
  log "G $name (guidance $g) training prompts $(acc "$dir/G/$name") $(tasks "$dir/G/$name")"
}

for row in "${rows[@]}"; do
  case $row in
    *@*) heldout_seed "${row%@*}" "${row#*@}"; continue ;;
    D1)  train_row D1 1 yes --combine oracle --steps-per-image 100 --min-timestep 0.5 ;;
    F15) train_row F15 1 no --combine oracle --steps-per-image 100 --guidance 1.5 ;;
    H1)  train_row H1 1 yes --combine oracle --batch-size 16 --steps-per-round 400 ;;
    I1)  train_row I1 1 yes --combine oracle --batch-size 16 --steps-per-round 400 --objective dpo ;;
    I2)  train_row I2 1 yes --combine arl --batch-size 16 --steps-per-round 400 --objective dpo ;;
    I3)  train_row I3 1 yes --combine arl --batch-size 16 --steps-per-round 1200 --objective dpo ;;
    I2s2) train_row I2s2 2 yes --combine arl --batch-size 16 --steps-per-round 400 --objective dpo ;;
    I4)  train_row I4 1 yes --combine arl --batch-size 16 --steps-per-round 400 --objective dpo --dpo-beta 500 ;;
    I5)  train_row I5 1 yes --combine arl --batch-size 16 --steps-per-round 400 --objective dpo --dpo-pairs 4 ;;
    I6)  train_row I6 1 yes --combine arl --batch-size 16 --steps-per-round 400 --objective dpo --rounds 2 ;;
    J1)  PROMPTS=886 K=4 train_row J1 1 no --combine arl --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J1s2) PROMPTS=886 K=4 train_row J1s2 2 no --combine arl --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J1s3) PROMPTS=886 K=4 train_row J1s3 3 no --combine arl --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J2)  PROMPTS=886 K=4 train_row J2 1 J1 --combine oracle --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J3)  PROMPTS=886 K=4 train_row J3 1 J1 --combine random --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J5)  PROMPTS=886 K=4 train_row J5 1 J1 --combine oracle --batch-size 16 --steps-per-round 800 --objective dpo --dpo-beta 500 ;;
    J4)  PROMPTS=886 K=4 REWARDS=caption,sam_relation train_row J4 1 J1 --combine arl --batch-size 16 --steps-per-round 800 --objective dpo ;;
    J6)  PROMPTS=886 K=4 REWARDS=caption,sam_relation train_row J6 1 J4 --combine arl --batch-size 16 --steps-per-round 800 --objective dpo --dpo-beta 500 ;;
    J7)  PROMPTS=886 K=4 REWARDS=caption,sam_relation train_row J7 1 J4 --combine arl --batch-size 16 --steps-per-round 2400 --objective dpo ;;
    G)   mkdir -p "$dir/G"
         guidance_eval base-g2 2; guidance_eval base-g8 8
         guidance_eval B-g2 2 --lora "$OUT/long/B/train/loras/round01.safetensors"
         continue ;;
    *)   echo "unknown row $row" >&2; exit 2 ;;
  esac
  eval_row "$row"
done

#!/usr/bin/env bash
# Train the wide-view PCR network in 30-minute stages, each warm-started
# from the previous one, on a dataset that `astropais simulate --resume`
# may still be writing (each stage reads the shards written so far), and
# score every stage with the benchmark runner and the real-image shredding
# benchmark.  Re-running the script after an interruption skips the
# finished stages and restarts the unfinished one from the previous stage.
#
#   scripts/train_stages.sh DATASET OUT_DIR
#
# Stage k is OUT_DIR/r<k> (model.keras + model.json, metrics.csv), its
# training log OUT_DIR/r<k>.log and its scores OUT_DIR/eval/r<k>/ (the
# runner's summaries on 12 dense hst fields of seeds 8300-8311 and 4
# hst_drizzled 512 x 512 fields of seeds 8100-8103, seeds kept for model
# choices, shredding.py --part real and pair_split.py, the shipped
# model's acceptance pair), written by a scoring job that
# runs at low priority beside the next stage's training (a stage scored
# completely leaves OUT_DIR/eval/r<k>/done; a re-run scores the finished
# stages that lack it).  Environment: MAX_MIN (minutes a stage, default
# 30), STAGES (default 40), MIN_SHARDS (shards to wait for before the
# first stage, default 3), KERAS_BACKEND (``jax`` trains the same network
# about 10-25 per cent faster on a CPU; the saved model loads with
# either backend), IN_MEMORY (1: keep the decoded shards in memory
# through a stage, ``astropais-train --in-memory``, about 3.2 MB a
# 256 x 256 crop: validation re-read every epoch and training crops
# re-read every few hundred steps took about 15 per cent of the training
# process's wall time in a 150 s py-spy sample of stage r10, nearly all
# of it zip decompression; default 0).
set -euo pipefail
data=$(realpath "$1")
out=$(realpath -m "$2")
repo=$(cd "$(dirname "$0")/.." && pwd)
max_min=${MAX_MIN:-30}
mkdir -p "$out"
cd "$out"
until [ "$(find "$data" -name 'shard-*.npz' | wc -l)" -ge "${MIN_SHARDS:-3}" ]; do
  sleep 60
done
score() {
  # Score stage $1 (its model $2) at low priority; done marks completion.
  local stage=$1 model=$2
  # Scored with Keras' default backend, as users run the deblender.
  (unset KERAS_BACKEND && cd "$repo" &&
   nice -n 10 python benchmarks/pair_split.py --model "$model" \
     --out "$out/eval/$stage/pair.json" &&
   nice -n 10 python benchmarks/shredding.py --part real --model "$model" \
     --out "$out/eval/$stage/shred_real" --no-plots &&
   nice -n 10 python benchmarks/run.py --preset hst --density 1500 \
     --fields 12 --size 256 --seed 8300 --methods photutils,sep,astropais \
     --model "$model" --out "$out/eval/$stage/val_hst" &&
   nice -n 10 python benchmarks/run.py --preset hst_drizzled --fields 4 \
     --size 512 --seed 8100 --methods photutils,sep,astropais \
     --model "$model" --out "$out/eval/$stage/val_drizzled" &&
   touch "$out/eval/$stage/done") > "eval_$stage.log" 2>&1 || \
    echo "scoring $stage failed: see eval_$stage.log"
}
prev=""
for k in $(seq 1 "${STAGES:-40}"); do
  stage=r$k
  if [ -f "$stage/model.keras" ]; then
    prev=$stage/model.keras
    [ -f "eval/$stage/done" ] || score "$stage" "$out/$prev" &
    continue
  fi
  [ -d "$stage" ] && mv "$stage" "${stage}_partial_$(date +%s)"
  if [ "$k" -le 2 ]; then lr=1e-3; elif [ "$k" -le 6 ]; then lr=5e-4; else lr=2e-4; fi
  init=()
  [ -n "$prev" ] && init=(--init-model "$prev")
  cache=()
  [ "${IN_MEMORY:-0}" = 1 ] && cache=(--in-memory)
  echo "$(date -u) stage $stage lr $lr init ${prev:-none} backend ${KERAS_BACKEND:-tensorflow}"
  astropais-train "$data" --out "$stage" --epochs 1000 --steps-per-epoch 100 \
    --batch-size 4 --depth 6 --base-filters 8 --vector-scale 32 --lr "$lr" \
    --seed $((300 + k)) --val-fraction 0.05 --vector-weighting fraction \
    --vector-weight 0.15 --max-minutes "$max_min" --no-progress \
    "${init[@]}" "${cache[@]}" > "$stage.log" 2>&1
  prev=$stage/model.keras
  echo "$(date -u) stage $stage trained; scoring it beside the next stage"
  score "$stage" "$out/$prev" &
done
wait

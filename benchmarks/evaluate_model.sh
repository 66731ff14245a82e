#!/usr/bin/env bash
# Every benchmark a candidate model must pass (issue "whole objects"), on
# seeds never used for training or choices, astropais beside photutils and
# SEP in each run:
#   benchmarks/evaluate_model.sh MODEL.keras OUT_DIR [FIELDS]
# MODEL may be 'shipped'.  FIELDS (default 10) 1024x1024 fields per preset:
# enough that each preset's blended common set holds >= 200 sources.
set -euo pipefail
model=$1
out=$2
fields=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
opt=()
[ "$model" != shipped ] && opt=(--model "$model")
mkdir -p "$out"
for preset in hst lsst hst_drizzled ground; do
  python "$here/run.py" --preset "$preset" --fields "$fields" --size 1024 \
    --seed 20000 --methods photutils,sep,astropais "${opt[@]}" --quiet \
    --out "$out/$preset"
done
python "$here/shredding.py" --galaxies 60 --stars 40 "${opt[@]}" \
  --out "$out/shredding"
for preset in hst hst_drizzled ground; do
  python "$here/equivariance.py" --preset "$preset" --fields 12 \
    "${opt[@]}" --out "$out/equivariance_$preset"
done

#!/usr/bin/env bash
# Copies a default-model training run (tools/model/train-default.sh) into the repository: the
# EMA model to models/default.safetensors, the checkpoint and loss log to models/training/ (so
# the next run continues from them), and the loss curve and a per-class sample grid to
# docs/images/ for docs/default-model.md. Run it while the trainer is stopped or between
# checkpoints (the trainer writes its files atomically, so a copy is never half-written).
# Usage: tools/model/publish-default.sh [--out DIR]   (default: runs/default-model)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/runs/default-model"
if [ "${1:-}" = "--out" ]; then out="$2"; fi
for f in model.safetensors checkpoint.safetensors loss.csv loss.png; do
  [ -f "$out/$f" ] || { echo "publish-default: $out/$f is missing" >&2; exit 1; }
done
export MESA_VK_IGNORE_CONFORMANCE_WARNING=1
mkdir -p "$root/models/training" "$root/docs/images"
cp "$out/model.safetensors" "$root/models/default.safetensors"
cp "$out/checkpoint.safetensors" "$out/loss.csv" "$root/models/training/"
cp "$out/loss.png" "$root/docs/images/default-model-loss.png"
# Six seeds per class, one row per class, with classifier-free guidance 3.
"$root/build/tessera" sample --model "$root/models/default.safetensors" --class all --count 6 --seed 1 --guidance 3 \
  --grid --out "$root/docs/images/default-model-classes.png"
"$root/build/tessera" info "$root/models/default.safetensors"

#!/usr/bin/env bash
# Copies a training run (tools/model/train-default.sh) into the repository: the EMA model to
# models/<name>.safetensors, the checkpoint and loss log to models/training[-material]/ (so the
# next run continues from them; the checkpoint is not tracked, see the end), and the loss curve and a per-class sample grid to docs/images/
# for docs/default-model.md (docs/material-model.md). Run it while the trainer is stopped or
# between checkpoints (the trainer writes its files atomically, so a copy is never half-written).
# Usage: tools/model/publish-default.sh [--material] [--out DIR]
#   (default DIR: runs/default-model, with --material runs/material-model)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
model=default out="" training="$root/models/training" grid=(--count 6)
while [ $# -gt 0 ]; do
  case "$1" in
    --material) model=material training="$root/models/training-material" grid=(--count 3 --size 64x64); shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "publish-default: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
out="${out:-$root/runs/$model-model}"
for f in model.safetensors checkpoint.safetensors loss.csv loss.png; do
  [ -f "$out/$f" ] || { echo "publish-default: $out/$f is missing" >&2; exit 1; }
done
export MESA_VK_IGNORE_CONFORMANCE_WARNING=1
mkdir -p "$training" "$root/docs/images"
cp "$out/model.safetensors" "$root/models/$model.safetensors"
cp "$out/checkpoint.safetensors" "$out/loss.csv" "$training/"
cp "$out/loss.png" "$root/docs/images/$model-model-loss.png"
# The same seeds in every row, one row per class (a material's maps side by side), guidance 3.
"$root/build/tessera" sample --model "$root/models/$model.safetensors" --class all "${grid[@]}" --seed 1 --guidance 3 \
  --grid --out "$root/docs/images/$model-model-classes.png"
"$root/build/tessera" info "$root/models/$model.safetensors"
# The checkpoint (25 MiB) stays out of the tree, which must stay under the 64 MiB a GPU-machine
# call carries (docs/gpu.md); git history keeps it, and checkpoint-commit.txt names where.
rel="${training#"$root"/}"
echo "publish-default: to keep the checkpoint in git history, commit it alone and point to it:"
echo "  git add -f $rel/checkpoint.safetensors && git commit -m 'checkpoint of models/$model.safetensors' &&"
echo "  git rev-parse HEAD > $rel/checkpoint-commit.txt && git rm --cached $rel/checkpoint.safetensors"

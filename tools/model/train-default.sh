#!/usr/bin/env bash
# Trains (or continues training) the bundled default model, models/default.safetensors, with
# Tessera's own trainer. The run is long on a machine without a GPU (about 1 s a step on a quiet
# 2-core lavapipe machine), so it is made to be stopped and continued: a run whose --out folder
# has no checkpoint starts from the published one, models/training/checkpoint.safetensors where
# it is present, else the commit that models/training/checkpoint-commit.txt names.
#
# Usage: tools/model/train-default.sh [--material] [--data DIR] [--out DIR] [--steps N]
#   --material  train the bundled material model, models/material.safetensors, instead (maps
#            albedo, height, roughness on the 64px material set; a new run starts from the
#            default model's weights, --init-from; its checkpoint is kept in
#            models/training-material/)
#   --data   the 64px texture set (default: ../shared/data/textures-train/64px, else the copy
#            tools/data/rebuild-textures.sh builds in build-data/textures-train/64px; with
#            --material the material set, from tools/data/rebuild-materials.sh)
#   --out    run folder (default: runs/default-model, runs/material-model)
#   --steps  total steps to reach (default 20000)
# When it stops (Ctrl-C saves a checkpoint), `tools/model/publish-default.sh` copies the
# model, the checkpoint and the documentation images into the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=recipe.sh
. "$root/tools/model/recipe.sh"
data="" out="" steps=20000 set=textures-train model=default extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --material) set=materials-train model=material; shift ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "train-default: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
out="${out:-$root/runs/$model-model}"
training="$root/models/training"
if [ "$model" = material ]; then
  training="$root/models/training-material"
  extra=("${material_recipe[@]}")
fi
if [ -z "$data" ]; then
  for candidate in "$root/../shared/data/$set/64px" "$root/build-data/$set/64px"; do
    if [ -d "$candidate" ]; then data="$candidate"; break; fi
  done
fi
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "train-default: no training data; build it with tools/data/rebuild-${set%-train}.sh --out build-data/$set" >&2
  exit 1
fi

"$root/tools/install-deps.sh"
export MESA_VK_IGNORE_CONFORMANCE_WARNING=1
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$root/build" tessera >/dev/null

mkdir -p "$out"
resume=()
if [ -f "$out/checkpoint.safetensors" ]; then
  resume=(--resume)
elif [ -f "$training/checkpoint.safetensors" ]; then
  cp "$training/checkpoint.safetensors" "$out/checkpoint.safetensors"
  cp "$training/loss.csv" "$out/loss.csv" 2>/dev/null || true
  resume=(--resume)
elif [ -f "$training/checkpoint-commit.txt" ]; then
  # The published checkpoint is kept in git history, not in the tree (see checkpoint-commit.txt).
  commit="$(cat "$training/checkpoint-commit.txt")"
  git -C "$root" show "$commit:${training#"$root"/}/checkpoint.safetensors" >"$out/checkpoint.safetensors.tmp"
  mv "$out/checkpoint.safetensors.tmp" "$out/checkpoint.safetensors"
  cp "$training/loss.csv" "$out/loss.csv" 2>/dev/null || true
  resume=(--resume)
elif [ "$model" = material ]; then
  resume=(--init-from "$root/models/default.safetensors")
fi

# The model and its training: tools/model/recipe.sh.
exec "$root/build/tessera" train --data "$data" --out "$out" "${recipe[@]}" --steps "$steps" --sample-every 1000 \
  --checkpoint-every 250 --log-every 50 "${extra[@]}" "${resume[@]}"

#!/usr/bin/env bash
# Trains (or continues training) the bundled default model, models/default.safetensors, with
# Tessera's own trainer. The run is long on a machine without a GPU (about 1 s a step on a quiet
# 2-core lavapipe machine), so it is made to be stopped and continued: the latest checkpoint is
# kept in models/training/, and a run whose --out folder has no checkpoint starts from it.
#
# Usage: tools/model/train-default.sh [--data DIR] [--out DIR] [--steps N]
#   --data   the 64px texture set (default: ../shared/data/textures-train/64px, else the copy
#            tools/data/rebuild-textures.sh builds in build-data/textures-train/64px)
#   --out    run folder (default: runs/default-model)
#   --steps  total steps to reach (default 20000)
# When it stops (Ctrl-C saves a checkpoint), `tools/model/publish-default.sh` copies the
# model, the checkpoint and the documentation images into the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="" out="$root/runs/default-model" steps=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "train-default: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "$data" ]; then
  for candidate in "$root/../shared/data/textures-train/64px" "$root/build-data/textures-train/64px"; do
    if [ -d "$candidate" ]; then data="$candidate"; break; fi
  done
fi
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "train-default: no training data; build it with tools/data/rebuild-textures.sh --out build-data/textures-train" >&2
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
elif [ -f "$root/models/training/checkpoint.safetensors" ]; then
  cp "$root/models/training/checkpoint.safetensors" "$out/checkpoint.safetensors"
  cp "$root/models/training/loss.csv" "$out/loss.csv" 2>/dev/null || true
  resume=(--resume)
fi

# The model: base 32, two levels of downsampling (32 -> 16 -> 8 on the 32 px crops), attention
# at 8x8, circular padding so results tile, cosine schedule, v prediction, min-SNR weighting.
exec "$root/build/tessera" train --data "$data" --out "$out" --res 32 --base 32 --mult 1,2,2 --res-blocks 2 \
  --attn 8 --heads 4 --groups 8 --padding circular --schedule cosine --prediction v --batch 8 --lr 2e-4 \
  --warmup 200 --ema 0.999 --min-snr 5 --steps "$steps" --sample-every 1000 --checkpoint-every 250 \
  --log-every 50 "${resume[@]}"

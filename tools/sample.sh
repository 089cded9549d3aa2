#!/usr/bin/env bash
# From a fresh Debian 12 machine to a texture: installs what is missing, builds the `tessera`
# command (release) and runs `tessera sample`. Arguments go to `tessera sample`; with none it
# writes a seamless 128x128 stonework material set (guidance 3) with the bundled material model
# (models/material.safetensors): material_albedo.png, material_height.png (16-bit),
# material_roughness.png and material_normal.png.
# Usage: tools/sample.sh [tessera sample options]     e.g. tools/sample.sh --class wood --seed 7
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

"$root/tools/install-deps.sh"
# lavapipe prints a "not a conformant implementation" warning on every device creation.
export MESA_VK_IGNORE_CONFORMANCE_WARNING=1

cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$root/build" -j "${TESSERA_JOBS:-$(nproc)}" tessera >/dev/null

if [ $# -eq 0 ]; then
  set -- --model "$root/models/material.safetensors" --class stonework --size 128x128 --seed 1 --guidance 3 \
    --out material.png
fi
exec "$root/build/tessera" sample "$@"

#!/usr/bin/env bash
# Installs the Debian 12 packages Tessera needs to build, test and run, skipping those
# already present. Run as root (or with sudo available). Idempotent and quiet when done.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev
  libvulkan-dev glslc glslang-tools spirv-tools vulkan-tools
  vulkan-validationlayers mesa-vulkan-drivers
  libgtest-dev libstb-dev nlohmann-json3-dev
  libglfw3-dev libimgui-dev xvfb
  python3 python3-numpy python3-pil python3-torch
  mono-mcs mono-runtime
  love
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; rerun as root" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

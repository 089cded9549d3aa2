#!/usr/bin/env bash
# Rebuilds Tessera's texture training set (64px/ and 32px/<class>/*.png, manifest.csv,
# ATTRIBUTION.md, LICENSES/) from the Debian bookworm packages it was made from, so the bundled
# model is reproducible without ../shared. See docs/training-data.md.
#
#   tools/data/rebuild-textures.sh [--out DIR] [--verify REF] [--work DIR] [--jobs N] [--keep]
#
#   --out DIR     where the set goes (default build-data/textures-train); replaced if present
#   --verify REF  afterwards compare every file of REF (e.g. /work/shared/data/textures-train)
#                 with DIR; exit status 1 on any difference
#   --work DIR    downloads and extracted sources (default build-data/work)
#   --jobs N      image processes (default: number of CPUs)
#   --keep        keep the .deb files and extracted sources in --work (reused by the next
#                 run); by default everything in --work is deleted at the end
#
# Needs Debian 12 (bookworm) apt sources; installs the Debian packages below when missing
# (as root, or through sudo). Peak disk use about 5 GB in --work (the 0ad-data .deb is 1.4 GB
# and holds a 3.3 GB public.zip); the set itself is about 50 MB.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipe="$here/textures-train"
helper="$here/textures.py"
py=/usr/bin/python3

# Debian packages this script itself needs.
deps=(python3 python3-pil python3-numpy dpkg tar apt coreutils base-files)

# The packages (and exact versions) the published set was built from, with the SHA-256 of
# each .deb as fetched from deb.debian.org (bookworm main) when this script was written.
sources=(
  "0ad-data 0.0.26-1 53745ae74d05bccf6783400fa98f3932b21729ab9d2e86151aa2c331c3455178"
  "openarena-081-textures 0.8.5split-14 72bf05abd5286a1523b56ca04e25bceb775813d747f92ecd20749d512361a81f"
)

out=build-data/textures-train
work=build-data/work
name=rebuild-textures
script="${BASH_SOURCE[0]}"
# shellcheck source=tools/data/debian-data.sh
. "$here/debian-data.sh"

# --- 1. tools, 2. download (pinned versions, checked hashes) ---------------------------------
dd_start "$@"

# --- 3. extract the source textures ----------------------------------------------------------
# Only the archives the manifest names (and each package's copyright file) leave the .debs;
# each archive is unpacked by the helper and deleted right after, to keep the disk use down.
extract_textures() {
  local pkg="$1" deb="$2" manifest_pkg="$3"
  mapfile -t archives < <(tail -n +2 "$manifest_pkg" | grep -o 'usr/[^:,]*:' | tr -d : | sort -u)
  members=("./usr/share/doc/$pkg/copyright")
  for a in "${archives[@]}"; do members+=("./$a"); done
  dd_log "$pkg: unpacking ${archives[*]} from the .deb"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" "${members[@]}"
  dd_log "$pkg: extracting the source textures"
  "$py" "$helper" extract --manifest "$manifest_pkg" --root "$work/root" --out "$work/src"
  for a in "${archives[@]}"; do rm -f "$work/root/$a"; done
}
dd_extract_each extract_textures

# --- 4. build the set ------------------------------------------------------------------------
rm -rf "$out.tmp"
dd_log "building the 64px and 32px images ($jobs processes)"
"$py" "$helper" build --manifest "$recipe/manifest.csv" --src "$work/src" --out "$out.tmp" -j "$jobs"
cp "$recipe/manifest.csv" "$recipe/ATTRIBUTION.md" "$out.tmp/"
dd_copy_copyrights
cp /usr/share/common-licenses/GPL-2 /usr/share/common-licenses/GPL-3 "$out.tmp/LICENSES/"

# --- 5. verify -------------------------------------------------------------------------------
dd_publish_and_verify

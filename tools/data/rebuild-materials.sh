#!/usr/bin/env bash
# Rebuilds Tessera's material training set (128px/ and 64px/<class>/<name>_{albedo,height,
# roughness}.png, manifest.csv, README.md, ATTRIBUTION.md, LICENSES/) from the Debian bookworm
# packages it was made from. It follows the set's manifest.csv (source files, crop, scale,
# green convention per sample); see docs/training-data.md and tools/data/materials.py.
#
#   tools/data/rebuild-materials.sh [--out DIR] [--verify REF] [--work DIR] [--jobs N] [--keep]
#
#   --out DIR     where the set goes (default build-data/materials-train); replaced if present
#   --verify REF  afterwards compare REF (e.g. /work/shared/data/materials-train) with DIR:
#                 albedo, roughness and text files byte for byte, heights within 1 step of
#                 16 bits; prints the counts and the worst difference; exit status 1 on a miss
#   --work DIR    downloads and extracted sources (default build-data/work-materials)
#   --jobs N      image processes (default: number of CPUs)
#   --keep        keep the .deb files and extracted sources in --work (reused by the next
#                 run); by default everything in --work is deleted at the end
#
# Needs Debian 12 (bookworm) apt sources; installs the Debian packages below when missing
# (as root, or through sudo). Peak disk use about 6 GB in --work (the three .debs are 2.4 GB,
# 0ad-data holds a 3.3 GB public.zip); the set itself is about 100 MB.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
recipe="$here/materials-train"
helper="$here/materials.py"
py=/usr/bin/python3

# Debian packages this script itself needs.
deps=(python3 python3-pil python3-numpy dpkg tar apt coreutils)

# The packages (and exact versions) the published set was built from, with the SHA-256 of
# each .deb as fetched from deb.debian.org (bookworm main) when this script was written.
sources=(
  "redeclipse-data 1.6.0-1 ada26453d3100bd61154ce20a699352f0b48bb29f8505f477ebdcb612f71ab42"
  "0ad-data 0.0.26-1 53745ae74d05bccf6783400fa98f3932b21729ab9d2e86151aa2c331c3455178"
  "cube2-data 1.3-1 73c8781495578c1540c483a2e8351fd1fbc6ab67c71dd7d0928af48097b9ecb7"
)

out=build-data/materials-train
work=build-data/work-materials
name=rebuild-materials
script="${BASH_SOURCE[0]}"
# shellcheck source=tools/data/debian-data.sh
. "$here/debian-data.sh"

# --- 1. tools, 2. download (pinned versions, checked hashes) ---------------------------------
dd_start "$@"

# --- 3. extract the source textures ----------------------------------------------------------
# Only the files the manifest names (and each package's copyright file) leave the .debs: loose
# files go straight to $work/src/<path>; archives (0 A.D.'s public.zip) to $work/root, from
# where the helper copies the named members and the archive is deleted, to keep disk use down.
extract_materials() {
  local pkg="$1" deb="$2" manifest_pkg="$3"
  # the albedo, normal and specular columns (6-8) never hold commas or quotes
  mapfile -t files < <(tail -n +2 "$manifest_pkg" | cut -d, -f6-8 | tr , '\n' | sort -u)
  mapfile -t loose < <(printf '%s\n' "${files[@]}" | grep -v : || true)
  mapfile -t archives < <(printf '%s\n' "${files[@]}" | grep : | cut -d: -f1 | sort -u || true)
  dd_log "$pkg: unpacking ${#loose[@]} files and ${#archives[@]} archive(s) from the .deb"
  if [ ${#loose[@]} -gt 0 ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/src" "${loose[@]/#/./}"
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" "./usr/share/doc/$pkg/copyright" "${archives[@]/#/./}"
  if [ ${#archives[@]} -gt 0 ]; then
    "$py" "$helper" extract --manifest "$manifest_pkg" --root "$work/root" --out "$work/src"
    for a in "${archives[@]}"; do rm -f "$work/root/$a"; done
  fi
}
dd_extract_each extract_materials

# --- 4. build the set ------------------------------------------------------------------------
rm -rf "$out.tmp"
dd_log "building the 128px and 64px maps ($jobs processes)"
"$py" "$helper" build --manifest "$recipe/manifest.csv" --src "$work/src" --out "$out.tmp" -j "$jobs"
cp "$recipe/manifest.csv" "$recipe/ATTRIBUTION.md" "$recipe/README.md" "$out.tmp/"
dd_copy_copyrights

# --- 5. verify -------------------------------------------------------------------------------
dd_publish_and_verify

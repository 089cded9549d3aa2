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
verify=
jobs="$(nproc)"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out|--verify|--work|--jobs|-j)
      if [ $# -lt 2 ]; then
        echo "rebuild-materials: $1 needs a value (try --help)" >&2
        exit 2
      fi
      case "$1" in
        --out) out="$2" ;;
        --verify) verify="$2" ;;
        --work) work="$2" ;;
        *) jobs="$2" ;;
      esac
      shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rebuild-materials: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "rebuild-materials: --jobs '$jobs' is not a positive whole number" >&2
  exit 2
fi
if [ -n "$verify" ] && [ ! -d "$verify" ]; then
  echo "rebuild-materials: --verify $verify: no such folder" >&2
  exit 2
fi

log() { printf 'rebuild-materials: [%4ds] %s\n' "$SECONDS" "$*"; }

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then as_root=(sudo); fi
fi

# --- 1. tools ------------------------------------------------------------------------------
missing=()
for p in "${deps[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ ${#as_root[@]} -eq 0 ]; then
    echo "rebuild-materials: missing packages (${missing[*]}) and not root; rerun as root" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$work/debs" "$work/root" "$work/src"
work="$(cd "$work" && pwd)"
cleanup() {
  if [ "$keep" -eq 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# --- 2. download (pinned versions, checked hashes) -------------------------------------------
updated=0
for entry in "${sources[@]}"; do
  read -r pkg ver sha <<<"$entry"
  deb="$work/debs/${pkg}_${ver}_all.deb"
  if [ -f "$deb" ] && echo "$sha  $deb" | sha256sum --quiet -c - 2>/dev/null; then
    log "$pkg $ver: already downloaded"
    continue
  fi
  rm -f "$deb"
  if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1 && [ "$updated" -eq 0 ]; then
    log "apt-get update (no $pkg $ver in the package lists)"
    "${as_root[@]}" apt-get update -qq
    updated=1
  fi
  if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1; then
    echo "rebuild-materials: $pkg $ver is not in the configured apt sources (Debian 12 bookworm" \
         "main); it is also on snapshot.debian.org" >&2
    exit 1
  fi
  log "downloading $pkg $ver"
  # apt-get download writes into the current folder; it warns (harmlessly) when root runs it
  # in a folder the _apt user cannot read.
  (cd "$work/debs" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v 'unsandboxed as root' || true)
  if [ ! -f "$deb" ]; then
    echo "rebuild-materials: apt-get download gave no $deb" >&2
    exit 1
  fi
  if ! echo "$sha  $deb" | sha256sum --quiet -c -; then
    echo "rebuild-materials: $deb does not have the SHA-256 the set was built from ($sha)" >&2
    exit 1
  fi
done

# --- 3. extract the source textures ----------------------------------------------------------
# Only the files the manifest names (and each package's copyright file) leave the .debs: loose
# files go straight to $work/src/<path>; archives (0 A.D.'s public.zip) to $work/root, from
# where the helper copies the named members and the archive is deleted, to keep disk use down.
for entry in "${sources[@]}"; do
  read -r pkg ver sha <<<"$entry"
  deb="$work/debs/${pkg}_${ver}_all.deb"
  manifest_pkg="$work/manifest-$pkg.csv"
  awk -F, -v p="$pkg" 'NR == 1 || $4 == p' "$recipe/manifest.csv" >"$manifest_pkg"
  stamp="$work/src/.done-$pkg-$ver"
  if [ -f "$stamp" ] && [ -f "$work/root/usr/share/doc/$pkg/copyright" ]; then
    log "$pkg: sources already extracted"
    continue
  fi
  # the albedo, normal and specular columns (6-8) never hold commas or quotes
  mapfile -t files < <(tail -n +2 "$manifest_pkg" | cut -d, -f6-8 | tr , '\n' | sort -u)
  mapfile -t loose < <(printf '%s\n' "${files[@]}" | grep -v : || true)
  mapfile -t archives < <(printf '%s\n' "${files[@]}" | grep : | cut -d: -f1 | sort -u || true)
  log "$pkg: unpacking ${#loose[@]} files and ${#archives[@]} archive(s) from the .deb"
  if [ ${#loose[@]} -gt 0 ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/src" "${loose[@]/#/./}"
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" "./usr/share/doc/$pkg/copyright" "${archives[@]/#/./}"
  if [ ${#archives[@]} -gt 0 ]; then
    "$py" "$helper" extract --manifest "$manifest_pkg" --root "$work/root" --out "$work/src"
    for a in "${archives[@]}"; do rm -f "$work/root/$a"; done
  fi
  if [ "$keep" -eq 0 ]; then rm -f "$deb"; fi
  touch "$stamp"
done

# --- 4. build the set ------------------------------------------------------------------------
rm -rf "$out.tmp"
mkdir -p "$out.tmp/LICENSES"
log "building the 128px and 64px maps ($jobs processes)"
"$py" "$helper" build --manifest "$recipe/manifest.csv" --src "$work/src" --out "$out.tmp" -j "$jobs"
cp "$recipe/manifest.csv" "$recipe/ATTRIBUTION.md" "$recipe/README.md" "$out.tmp/"
for entry in "${sources[@]}"; do
  read -r pkg ver sha <<<"$entry"
  cp "$work/root/usr/share/doc/$pkg/copyright" "$out.tmp/LICENSES/$pkg.copyright"
done
rm -rf "$out"
mv "$out.tmp" "$out"
log "wrote $out ($(find "$out" -name '*.png' | wc -l) PNGs, $(du -sh "$out" | cut -f1))"

# --- 5. verify -------------------------------------------------------------------------------
status=0
if [ -n "$verify" ]; then
  log "verifying against $verify"
  "$py" "$helper" verify "$out" "$verify" || status=$?
fi
log "done"
exit "$status"

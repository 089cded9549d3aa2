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
verify=
jobs="$(nproc)"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --verify) verify="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --jobs|-j) jobs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rebuild-textures: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$verify" ] && [ ! -d "$verify" ]; then
  echo "rebuild-textures: --verify $verify: no such folder" >&2
  exit 2
fi

log() { printf 'rebuild-textures: [%4ds] %s\n' "$SECONDS" "$*"; }

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
    echo "rebuild-textures: missing packages (${missing[*]}) and not root; rerun as root" >&2
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
    echo "rebuild-textures: $pkg $ver is not in the configured apt sources (Debian 12 bookworm" \
         "main); it is also on snapshot.debian.org" >&2
    exit 1
  fi
  log "downloading $pkg $ver"
  # apt-get download writes into the current folder; it warns (harmlessly) when root runs it
  # in a folder the _apt user cannot read.
  (cd "$work/debs" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v 'unsandboxed as root' || true)
  if [ ! -f "$deb" ]; then
    echo "rebuild-textures: apt-get download gave no $deb" >&2
    exit 1
  fi
  if ! echo "$sha  $deb" | sha256sum --quiet -c -; then
    echo "rebuild-textures: $deb does not have the SHA-256 the set was built from ($sha)" >&2
    exit 1
  fi
done

# --- 3. extract the source textures ----------------------------------------------------------
# Only the archives the manifest names (and each package's copyright file) leave the .debs;
# each archive is unpacked by the helper and deleted right after, to keep the disk use down.
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
  mapfile -t archives < <(tail -n +2 "$manifest_pkg" | grep -o 'usr/[^:,]*:' | tr -d : | sort -u)
  members=("./usr/share/doc/$pkg/copyright")
  for a in "${archives[@]}"; do members+=("./$a"); done
  log "$pkg: unpacking ${archives[*]} from the .deb"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" "${members[@]}"
  log "$pkg: extracting the source textures"
  "$py" "$helper" extract --manifest "$manifest_pkg" --root "$work/root" --out "$work/src"
  for a in "${archives[@]}"; do rm -f "$work/root/$a"; done
  if [ "$keep" -eq 0 ]; then rm -f "$deb"; fi
  touch "$stamp"
done

# --- 4. build the set ------------------------------------------------------------------------
rm -rf "$out.tmp"
mkdir -p "$out.tmp/LICENSES"
log "building the 64px and 32px images ($jobs processes)"
"$py" "$helper" build --manifest "$recipe/manifest.csv" --src "$work/src" --out "$out.tmp" -j "$jobs"
cp "$recipe/manifest.csv" "$recipe/ATTRIBUTION.md" "$out.tmp/"
for entry in "${sources[@]}"; do
  read -r pkg ver sha <<<"$entry"
  cp "$work/root/usr/share/doc/$pkg/copyright" "$out.tmp/LICENSES/$pkg.copyright"
done
cp /usr/share/common-licenses/GPL-2 /usr/share/common-licenses/GPL-3 "$out.tmp/LICENSES/"
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

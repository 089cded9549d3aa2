# Shared by tools/data/rebuild-textures.sh and rebuild-materials.sh (sourced, not run): their
# options, log lines, the Debian tools they need and the pinned .deb downloads, written once.
#
# The sourcing script sets, before calling these functions:
#   name      its name for messages (e.g. rebuild-textures)
#   script    its own path (for --help, which prints its header comment)
#   deps      the Debian packages it needs
#   sources   "package version sha256" lines of the .debs it builds from
#   out work  the defaults of --out and --work
#   recipe py helper  the recipe folder (manifest.csv), the Python and its helper script

# Parses the common options into out, verify, work, jobs, keep; exits 2 on a bad one.
dd_parse_args() {
  verify=
  jobs="$(nproc)"
  keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --out|--verify|--work|--jobs|-j)
        if [ $# -lt 2 ]; then
          echo "$name: $1 needs a value (try --help)" >&2
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
      -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$script"; exit 0 ;;
      *) echo "$name: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
  done
  if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
    echo "$name: --jobs '$jobs' is not a positive whole number" >&2
    exit 2
  fi
  if [ -n "$verify" ] && [ ! -d "$verify" ]; then
    echo "$name: --verify $verify: no such folder" >&2
    exit 2
  fi
}

dd_log() { printf '%s: [%4ds] %s\n' "$name" "$SECONDS" "$*"; }

# Installs the missing packages of deps (as root, or through sudo); sets as_root for later use.
dd_install_deps() {
  as_root=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then as_root=(sudo); fi
  local missing=() p
  for p in "${deps[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  if [ "$(id -u)" -ne 0 ] && [ ${#as_root[@]} -eq 0 ]; then
    echo "$name: missing packages (${missing[*]}) and not root; rerun as root" >&2
    exit 1
  fi
  dd_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Creates $work/{debs,root,src}, makes work absolute and deletes it on exit unless --keep.
dd_prepare_work() {
  mkdir -p "$work/debs" "$work/root" "$work/src"
  work="$(cd "$work" && pwd)"
  trap 'if [ "$keep" -eq 0 ]; then rm -rf "$work"; fi' EXIT
}

# Downloads every .deb of sources into $work/debs (pinned version, SHA-256 checked), reusing
# one already there with the right hash.
dd_download() {
  local updated=0 entry pkg ver sha deb
  for entry in "${sources[@]}"; do
    read -r pkg ver sha <<<"$entry"
    deb="$work/debs/${pkg}_${ver}_all.deb"
    if [ -f "$deb" ] && echo "$sha  $deb" | sha256sum --quiet -c - 2>/dev/null; then
      dd_log "$pkg $ver: already downloaded"
      continue
    fi
    rm -f "$deb"
    if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1 && [ "$updated" -eq 0 ]; then
      dd_log "apt-get update (no $pkg $ver in the package lists)"
      "${as_root[@]}" apt-get update -qq
      updated=1
    fi
    if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1; then
      echo "$name: $pkg $ver is not in the configured apt sources (Debian 12 bookworm" \
           "main); it is also on snapshot.debian.org" >&2
      exit 1
    fi
    dd_log "downloading $pkg $ver"
    # apt-get download writes into the current folder; it warns (harmlessly) when root runs it
    # in a folder the _apt user cannot read.
    (cd "$work/debs" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v 'unsandboxed as root' || true)
    if [ ! -f "$deb" ]; then
      echo "$name: apt-get download gave no $deb" >&2
      exit 1
    fi
    if ! echo "$sha  $deb" | sha256sum --quiet -c -; then
      echo "$name: $deb does not have the SHA-256 the set was built from ($sha)" >&2
      exit 1
    fi
  done
}

# The common start: options, tools, work folder, downloads.
dd_start() {
  dd_parse_args "$@"
  dd_install_deps
  dd_prepare_work
  dd_download
}

# Calls "$1 pkg deb manifest_pkg" once per package of sources, manifest_pkg being the rows of
# $recipe/manifest.csv (package in column 4) for that package, except where a kept --work
# already has its sources (a stamp file); deletes the .deb afterwards unless --keep.
dd_extract_each() {
  local entry pkg ver sha deb manifest_pkg stamp
  for entry in "${sources[@]}"; do
    read -r pkg ver sha <<<"$entry"
    deb="$work/debs/${pkg}_${ver}_all.deb"
    manifest_pkg="$work/manifest-$pkg.csv"
    awk -F, -v p="$pkg" 'NR == 1 || $4 == p' "$recipe/manifest.csv" >"$manifest_pkg"
    stamp="$work/src/.done-$pkg-$ver"
    if [ -f "$stamp" ] && [ -f "$work/root/usr/share/doc/$pkg/copyright" ]; then
      dd_log "$pkg: sources already extracted"
      continue
    fi
    "$1" "$pkg" "$deb" "$manifest_pkg"
    if [ "$keep" -eq 0 ]; then rm -f "$deb"; fi
    touch "$stamp"
  done
}

# Copies each package's debian/copyright to $out.tmp/LICENSES/<package>.copyright.
dd_copy_copyrights() {
  local entry pkg ver sha
  mkdir -p "$out.tmp/LICENSES"
  for entry in "${sources[@]}"; do
    read -r pkg ver sha <<<"$entry"
    cp "$work/root/usr/share/doc/$pkg/copyright" "$out.tmp/LICENSES/$pkg.copyright"
  done
}

# Moves the finished $out.tmp to $out, runs "$helper verify" against --verify if given, and
# exits with its status.
dd_publish_and_verify() {
  rm -rf "$out"
  mv "$out.tmp" "$out"
  dd_log "wrote $out ($(find "$out" -name '*.png' | wc -l) PNGs, $(du -sh "$out" | cut -f1))"
  local status=0
  if [ -n "$verify" ]; then
    dd_log "verifying against $verify"
    "$py" "$helper" verify "$out" "$verify" || status=$?
  fi
  dd_log "done"
  exit "$status"
}

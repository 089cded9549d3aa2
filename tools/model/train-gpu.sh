#!/usr/bin/env bash
# Trains a bundled model on a GPU machine, from the GPU bundle (docs/gpu.md), for a given number
# of minutes, and writes the EMA model, and the checkpoint when it fits, into an output folder as
# files of at most 16 MiB each: a larger file is split in parts that every `tessera` command reads
# as one (FILE.parts and FILE.part-000-of-NNN ...; `tessera model join` makes it whole).
#
#   tools/model/train-gpu.sh bundle [--material] [--from DIR] [DEST]
#       in the source tree, where the training data is: the training bundle DEST (default
#       gpu-train/): the binary, libraries and bundled models of tools/gpu/check.sh's bundle,
#       and the 64px texture set (--material: the material set) from DIR (default
#       ../shared/data/<set>/64px, else build-data/<set>/64px)
#   BUNDLE/train-gpu.sh run --out OUT --minutes M [options] [-- more tessera train options]
#       on the GPU machine, from the training bundle (or the check bundle, with --data or
#       --dry-run), no network needed; an option after -- replaces the recipe's (--batch 64)
#     --material      the material model (maps albedo, height, roughness on the material set); a
#                     new run starts from the bundled default model's weights
#     --resume CKPT   continue from CKPT, whole or split (its loss.csv, if beside it, continues
#                     too); without it, a new run of the recipe in tools/model/recipe.sh
#     --init-from MODEL  start a new run from MODEL's weights (whole or split), e.g. the
#                     bundled model or an earlier run's model: carries 6 MiB, not a 25 MiB checkpoint
#     --data DIR      the 64px set (default: the bundle's data/<set>/64px)
#     --steps N       the step to stop at if the minutes last that long (default 100000000)
#     --part-bytes N  the largest file written into OUT (default 16777216, 16 MiB)
#     --out-bytes N, --out-files N
#                     what OUT may hold together (default 67108864 bytes, 8 files: what a device
#                     call returns); the checkpoint is left out, and the log says so, when it
#                     does not fit beside the model, loss.csv, samples.png and the log
#     --dry-run       a smoke run for CI and check.sh: the bundle's three-class fixture set,
#                     --part-bytes 1048576, sampling at 2 steps
#
# Training stops after M minutes (SIGINT: the step finishes and a checkpoint is saved) or at
# --steps. OUT then holds model.safetensors (EMA weights; split when larger than --part-bytes),
# checkpoint.safetensors (same), loss.csv, samples.png (a grid sampled from OUT's model, which
# also shows that the written files load) and train-gpu.log. Exit status 0 when all of that
# worked. A call's timeout must leave about 2 minutes beyond M for start-up and writing.
set -euo pipefail

usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2
  exit 2
}
say() { printf 'train-gpu: %s\n' "$*"; }
fail() {
  printf 'train-gpu: %s\n' "$*" >&2
  exit 1
}
# A non-negative decimal integer, or an error naming the option.
integer() {
  [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 must be a whole number, got '${2:0:64}'"
  echo "$2"
}

# --- bundle: runs in the source tree, where the training data is ------------------------------
# The training subset of the check bundle (no test binary, no PyTorch tools) and one 64px set:
# what one device call carries (docs/gpu.md).
make_train_bundle() {
  local root set=textures-train from="" dest="" check
  root="$(cd "$(dirname "$0")/../.." && pwd)"
  while [ $# -gt 0 ]; do
    case "$1" in
      --material) set=materials-train; shift ;;
      --from) from="${2:?--from needs a folder}"; shift 2 ;;
      -*) echo "train-gpu.sh bundle: unknown option '$1'" >&2; usage ;;
      *) [ -z "$dest" ] || usage; dest="$1"; shift ;;
    esac
  done
  dest="$(realpath -m "${dest:-$root/gpu-train}")"
  if [ -z "$from" ]; then
    for from in "$root/../shared/data/$set/64px" "$root/build-data/$set/64px"; do
      [ -d "$from" ] && break
    done
  fi
  [ -d "$from" ] || fail "no training data at '$from'; build it with tools/data/rebuild-${set%-train}.sh --out build-data/$set"
  check="$root/gpu-bundle"  # the check bundle, made (again) first
  "$root/tools/gpu/check.sh" bundle "$check" >/dev/null
  local tmp="$dest.partial"
  rm -rf "$tmp"
  mkdir -p "$tmp/bin" "$tmp/data/$set"
  cp "$check/bin/tessera" "$tmp/bin/"
  cp -r "$check/lib" "$check/models" "$check/REVISION" "$check/bundle-env.sh" "$check/recipe.sh" "$check/train-gpu.sh" "$tmp/"
  cp -r "$check/data/dry-run" "$tmp/data/"
  cp -r "$from" "$tmp/data/$set/64px"
  # The set's credits travel with it.
  for f in ATTRIBUTION.md LICENSES; do
    if [ -e "$from/../$f" ]; then cp -r "$from/../$f" "$tmp/data/$set/"; fi
  done
  rm -rf "$dest"
  mv "$tmp" "$dest"
  say "$dest: $(du -sb "$dest" | cut -f1) bytes, of which the $set set $(du -sb "$dest/data/$set" | cut -f1) ($(find "$dest/data/$set/64px" -type f | wc -l) files)"
  say "on the GPU machine: $dest/train-gpu.sh run --out OUT --minutes M$([ "$set" = materials-train ] && echo ' --material')"
}

# --- run: runs from the bundle ----------------------------------------------------------------
# Puts FILE into OUT as NAME: whole when it fits in a part, else split by `tessera model split`.
# Each file appears atomically (a copy, then a rename).
put_file() {
  local file="$1" name="$2"
  if [ "$(stat -c %s "$file")" -le "$part_bytes" ]; then
    cp "$file" "$out/.$name.tmp"
    mv "$out/.$name.tmp" "$out/$name"
  else
    cp "$file" "$work/$name"  # split names the parts after the file
    "$tessera" model split "$work/$name" --part-bytes "$part_bytes" --out "$out" >/dev/null
  fi
}

# The recipe less the options given again after --, which replace the recipe's values there
# (tessera train refuses an option given twice). The recipe is pairs of --option value.
recipe_less_overrides() {
  local i given
  for ((i = 0; i < ${#recipe[@]}; i += 2)); do
    for given in "${extra[@]}"; do
      [ "$given" = "${recipe[i]}" ] || [ "${given%%=*}" = "${recipe[i]}" ] && continue 2
    done
    printf '%s\n' "${recipe[i]}" "${recipe[i + 1]}"
  done
}

# How many files and bytes FILE takes in OUT (put_file's way).
out_files_of() { local s; s=$(stat -c %s "$1"); [ "$s" -le "$part_bytes" ] && echo 1 || echo $(((s + part_bytes - 1) / part_bytes + 1)); }

run_training() {
  # Global: train_and_write and put_file read them.
  here="$(cd "$(dirname "$0")" && pwd)" minutes="" data="" resume="" init_from="" steps=100000000 material=0 dry=0
  out="" part_bytes=16777216 out_bytes=67108864 out_files=8 extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out="${2:?--out needs a folder}"; shift 2 ;;
      --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
      --material) material=1; shift ;;
      --resume) resume="${2:?--resume needs a checkpoint}"; shift 2 ;;
      --init-from) init_from="${2:?--init-from needs a model}"; shift 2 ;;
      --data) data="${2:?--data needs a folder}"; shift 2 ;;
      --steps) steps=$(integer --steps "${2:-}"); shift 2 ;;
      --part-bytes) part_bytes=$(integer --part-bytes "${2:-}"); shift 2 ;;
      --out-bytes) out_bytes=$(integer --out-bytes "${2:-}"); shift 2 ;;
      --out-files) out_files=$(integer --out-files "${2:-}"); shift 2 ;;
      --dry-run) dry=1; shift ;;
      --) shift; extra=("$@"); break ;;
      *) echo "train-gpu.sh run: unknown argument '$1'" >&2; usage ;;
    esac
  done
  [ -n "$out" ] || { echo "train-gpu.sh run: --out OUT is required" >&2; usage; }
  [[ "$minutes" =~ ^[0-9]*[1-9][0-9]*(\.[0-9]+)?$|^[0-9]+\.[0-9]*[1-9][0-9]*$ ]] ||
    fail "--minutes must be a positive number of minutes (e.g. 8 or 0.5), got '${minutes:0:64}'"
  [ "$part_bytes" -gt 0 ] || fail "--part-bytes must be at least 1"
  tessera="$here/bin/tessera"
  [ -x "$tessera" ] || fail "$here is not a bundle (make one with tools/gpu/check.sh bundle)"
  # shellcheck source=../gpu/bundle-env.sh
  . "$here/bundle-env.sh"
  bundle_env "$here"
  # shellcheck source=recipe.sh
  . "$here/recipe.sh"

  set=textures-train maps=()
  if [ "$material" = 1 ]; then set=materials-train maps=("${material_recipe[@]}"); fi
  if [ "$dry" = 1 ]; then
    [ "$material" = 0 ] || fail "--dry-run trains the texture model only"
    data="${data:-$here/data/dry-run}"
    part_bytes=1048576
  fi
  data="${data:-$here/data/$set/64px}"
  [ -d "$data" ] || fail "no training data at '$data' (make a bundle with it: tools/model/train-gpu.sh bundle$([ "$material" = 1 ] && echo ' --material'))"
  [ -z "$resume" ] || [ -z "$init_from" ] || fail "--resume continues a run and --init-from starts a new one: give one of them"
  [ -z "$resume" ] || [ -e "$resume" ] || [ -e "$resume.parts" ] || fail "--resume: no checkpoint at '$resume' (nor its parts, '$resume.parts')"

  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  # What is in OUT is what comes back, counted against --out-files and --out-bytes.
  [ -z "$(ls -A "$out")" ] || fail "--out '$out' is not empty: give a new or empty folder"
  # The run's own files stay out of OUT, which takes only what is to come back.
  work="$(mktemp -d "${TMPDIR:-/tmp}/tessera-train-gpu.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  export TESSERA_PIPELINE_CACHE="$work/pipeline-cache"
  # errexit holds inside the subshell, where a "|| status=$?" would switch it off.
  set +e
  (
    set -e
    train_and_write
  ) 2>&1 | tee "$out/train-gpu.log"
  local status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

# The run proper, its output logged by run_training.
train_and_write() {
  local run="$work/run" start=()
  mkdir -p "$run"
  if [ -n "$resume" ]; then
    # tessera train --resume reads the whole file in its run folder: a split one is joined.
    if [ -e "$resume" ] && [[ "$resume" != *.parts ]]; then
      cp "$resume" "$run/checkpoint.safetensors"
    else
      "$tessera" model join "$resume" --out "$run/checkpoint.safetensors" >/dev/null
    fi
    if [ -f "$(dirname "$resume")/loss.csv" ]; then cp "$(dirname "$resume")/loss.csv" "$run/loss.csv"; fi
    start=(--resume)
  elif [ -n "$init_from" ]; then
    start=(--init-from "$init_from")
  elif [ "$material" = 1 ]; then
    start=(--init-from "$here/models/default.safetensors")
  fi
  say "bundle $(cat "$here/REVISION"), $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n); data $data; ${minutes} min"
  local t0=$SECONDS status=0 trained=0 log_every=100 own_recipe
  mapfile -t own_recipe < <(recipe_less_overrides)
  [ "$dry" = 1 ] && log_every=1
  # The signal of a stop request (cli/stop_signals.hpp): the step finishes, a checkpoint is
  # saved. timeout exits 124 then; a run that ignores it for 5 minutes is killed (137).
  # --foreground: without it timeout signals its process group too, and a second SIGINT
  # stops tessera train at once, without saving.
  timeout --foreground --signal=INT --kill-after=5m "${minutes}m" "$tessera" train --data "$data" --out "$run" "${own_recipe[@]}" \
    "${maps[@]}" --steps "$steps" --sample-every 0 --checkpoint-every 2000 --log-every "$log_every" "${start[@]}" \
    "${extra[@]}" || trained=$?
  case "$trained" in
    0) say "reached step $steps in $((SECONDS - t0)) s" ;;
    124) say "stopped after ${minutes} min ($((SECONDS - t0)) s)" ;;
    *)
      # What an earlier checkpoint (--checkpoint-every) saved still comes back.
      say "tessera train failed (status $trained)"
      status=1
      ;;
  esac
  [ -f "$run/model.safetensors" ] || { say "no model was saved"; return 1; }

  # What comes back: the model first, then the checkpoint if OUT still takes it.
  put_file "$run/model.safetensors" model.safetensors
  if [ -f "$run/loss.csv" ]; then put_file "$run/loss.csv" loss.csv; fi
  local sample_steps=25
  [ "$dry" = 1 ] && sample_steps=2
  "$tessera" sample --model "$out/model.safetensors" --class all --count 2 --steps "$sample_steps" --grid \
    --out "$out/samples.png" || status=1
  local files bytes ckpt_files ckpt_bytes
  files=$(find "$out" -maxdepth 1 -type f | wc -l)
  bytes=$(du -cb "$out"/* | tail -1 | cut -f1)
  ckpt_files=$(out_files_of "$run/checkpoint.safetensors")
  ckpt_bytes=$(($(stat -c %s "$run/checkpoint.safetensors") + 4096))  # + its manifest
  # The log grows by a few lines after this; 4 KiB are kept for them.
  if [ $((files + ckpt_files)) -le "$out_files" ] && [ $((bytes + ckpt_bytes + 4096)) -le "$out_bytes" ]; then
    put_file "$run/checkpoint.safetensors" checkpoint.safetensors
  else
    say "checkpoint left out: with it OUT would hold $((files + ckpt_files)) files and $((bytes + ckpt_bytes)) bytes (limits: $out_files files, $out_bytes bytes)"
  fi
  "$tessera" info "$out/model.safetensors" | sed -n '1p;/^provenance/,$p'
  say "OUT: $(cd "$out" && ls | tr '\n' ' ')"
  say "done in $((SECONDS - t0)) s, status $status"
  return "$status"
}

case "${1:-}" in
  bundle) shift; make_train_bundle "$@" ;;
  run) shift; run_training "$@" ;;
  *) usage ;;
esac

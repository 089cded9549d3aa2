#!/usr/bin/env bash
# One-call check of a GPU machine that has a Vulkan driver but maybe no network, no Vulkan SDK
# and no Vulkan loader (docs/gpu.md).
#
#   tools/gpu/check.sh bundle [DIR]        on a Debian 12 machine: build the release binaries and
#                                          write a self-contained bundle (default: gpu-bundle/)
#   DIR/check.sh run --out OUT [--dry-run] on the GPU machine, from the bundle: devices, the op
#                                          and U-Net tests (validation off), the benchmarks beside
#                                          PyTorch (CUDA when torch sees a GPU), a 30 s training
#                                          smoke run (train-gpu.sh --dry-run), memory, the
#                                          portable-mode hashes against lavapipe's; writes
#                                          OUT/report.md and OUT/report.json (+ raw logs)
#
# --dry-run runs the same steps with small sizes, so that it finishes in a few minutes on
# lavapipe with CPU torch; tools/test.sh runs it in CI.
set -euo pipefail

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- bundle: runs in the source tree ------------------------------------------------------
make_bundle() {
  local src out
  src="$(cd "$(dirname "$0")/../.." && pwd)"
  out="$(realpath -m "${1:-$src/gpu-bundle}")"
  cd "$src"
  tools/install-deps.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C build tessera tessera_tests tessera_plugin
  local tmp="$out.partial"
  rm -rf "$tmp"
  mkdir -p "$tmp"/{bin,lib,models,portable,tools/reference}
  cp build/tessera build/tessera_tests "$tmp/bin/"
  cp -P build/libtessera.so* "$tmp/lib/"
  # What a bare machine may lack, taken from this machine's Debian packages: the Vulkan loader
  # (libvulkan1), stb (libstb0) and the C++ runtime the binaries were built against. The GPU
  # driver itself (its ICD JSON and library) must be on the target.
  local lib path
  for lib in libvulkan.so.1 libstb.so.0 libstdc++.so.6 libgcc_s.so.1; do
    path=$(ldd build/tessera_tests | awk -v l="$lib" '$1 == l { print $3 }')
    [ -n "$path" ] || { echo "check.sh: ldd does not list $lib" >&2; exit 1; }
    cp -L "$path" "$tmp/lib/$lib"
  done
  cp models/default.safetensors models/material.safetensors "$tmp/models/"  # the hash table's models
  cp tests/portable/hashes.txt "$tmp/portable/"  # lavapipe's portable-mode hashes (docs/portable-hashes.md)
  cp tools/bench_torch.py "$tmp/tools/"
  cp tools/reference/*.py "$tmp/tools/reference/"
  cp tools/gpu/check.sh tools/gpu/bundle-env.sh tools/model/train-gpu.sh tools/model/recipe.sh "$tmp/"
  # The smoke run's training set (train-gpu.sh --dry-run): three classes, 160 KB with credits.
  mkdir -p "$tmp/data"
  cp -r tests/fixtures/textures "$tmp/data/dry-run"
  git rev-parse HEAD >"$tmp/REVISION" 2>/dev/null || echo unknown >"$tmp/REVISION"
  rm -rf "$out"
  mv "$tmp" "$out"
  echo "bundle: $out ($(du -sh "$out" | cut -f1)); on the GPU machine: $out/check.sh run --out OUT"
}

# --- run: runs from the bundle ---------------------------------------------------------------
find_python_with_torch() {
  local p
  for p in ${TESSERA_PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then
      command -v "$p"
      return
    fi
  done
}

run_check() {
  local out="" dry=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out="${2:?--out needs a folder}"; shift 2 ;;
      --dry-run) dry=1; shift ;;
      *) echo "check.sh run: unknown argument '$1'" >&2; usage ;;
    esac
  done
  [ -n "$out" ] || { echo "check.sh run: --out OUT is required" >&2; usage; }
  local here
  here="$(cd "$(dirname "$0")" && pwd)"
  [ -x "$here/bin/tessera" ] || { echo "check.sh run: $here is not a bundle (make one with tools/gpu/check.sh bundle)" >&2; exit 2; }
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  # shellcheck source=bundle-env.sh
  . "$here/bundle-env.sh"
  bundle_env "$here"
  export TESSERA_SOURCE_DIR="$here" TESSERA_PIPELINE_CACHE="$out/pipeline-cache"
  local python
  python="$(find_python_with_torch || true)"
  [ -n "$python" ] && export TESSERA_PYTHON="$python"
  local torch_device=cpu
  if [ -n "$python" ] && "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    torch_device=cuda
  fi
  export TESSERA_TORCH_DEVICE="$torch_device"

  # Sizes: the GPU targets of SPEC §10 (conv at batch 32, 512x512 sampling), or small ones.
  local tests bench_conv bench_train bench_sample
  if [ "$dry" = 1 ]; then
    tests='ActivationTest.*:UNetInferenceTest.*:PortableOpsTest.*'
    bench_conv=(conv --batch 1 --channels 64 --pass fwd --iters 1)
    bench_train=(train --steps 1 --batch 2)
    bench_sample=(sample --res 32 --steps 2 --iters 1)
  else
    tests='Activation*:AdamW*:Attention*:Concat*:Conv2d*:Elementwise*:Ema*:Embedding*:GradNorm*:GroupNorm*'
    tests+=':ImageConvert*:Linear*:Matmul*:MseLoss*:TimestepEmbedding*:Upsample*:Rng*:Arena*:CommandSequence*'
    tests+=':DiffusionOps*:TrainingStep*:UNet*:*/UNetReferenceTest.*:PortableTest.*:PortableSamplesTest.*:PortableOpsTest.*'
    bench_conv=(conv --batch 1,8,32 --iters 5)
    bench_train=(train --steps 10 --batch 32 --profile)
    bench_sample=(sample --res 64,256,512 --steps 25 --iters 5 --guidance 3)
  fi

  local t0=$SECONDS status=0
  step() { printf '\n=== %s ===\n' "$*"; }
  {
    step "bundle $(cat "$here/REVISION"), $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n)"
    echo "python with torch: ${python:-none}; torch device: $torch_device"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    step "tessera devices"
    "$here/bin/tessera" devices || status=1
    step "op and U-Net tests (validation off): $tests"
    "$here/bin/tessera_tests" --gtest_color=no --gtest_brief=1 "--gtest_filter=$tests" \
      "--gtest_output=json:$out/tests.json" || status=1
    step "tessera bench ${bench_conv[*]}"
    "$here/bin/tessera" bench "${bench_conv[@]}" --json "$out/bench-conv.json" || status=1
    step "tessera bench ${bench_train[*]}"
    "$here/bin/tessera" bench "${bench_train[@]}" || status=1
    step "tessera bench ${bench_sample[*]} (bundled model)"
    "$here/bin/tessera" bench "${bench_sample[@]}" --model "$here/models/default.safetensors" || status=1
    step "tessera bench ${bench_sample[*]} --portable (the same, in portable mode: docs/portable.md)"
    "$here/bin/tessera" bench "${bench_sample[@]}" --portable --no-torch \
      --model "$here/models/default.safetensors" || status=1
    if [ "$torch_device" = cuda ]; then
      step "PyTorch torch.compile (same cases as above, CUDA)"
      "$python" "$here/tools/bench_torch.py" train --compile --iters 10 --batch 32 --res 32 || true
    fi
    step "training from the bundle: train-gpu.sh run --dry-run --minutes 0.5 (fixture textures)"
    # Stops by its time limit, writes the model as 1 MiB parts and samples from them: the path a
    # real training run (docs/gpu.md) takes, end to end.
    local smoke
    smoke="$(mktemp -d "${TMPDIR:-/tmp}/tessera-train-smoke.XXXXXX")"
    if "$here/train-gpu.sh" run --dry-run --minutes 0.5 --out "$smoke" >/dev/null 2>&1 &&
      [ -f "$smoke/model.safetensors.parts" ] && [ ! -e "$smoke/model.safetensors" ] && [ -s "$smoke/samples.png" ]; then
      grep -E 'train-gpu: (stopped|reached|OUT|done)|step/s' "$smoke/train-gpu.log" | tail -n 5
    else
      cat "$smoke/train-gpu.log" 2>/dev/null
      echo "the training smoke run failed, or did not write model.safetensors as parts beside samples.png"
      status=1
    fi
    rm -rf "$smoke"
    step "memory"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=memory.used,memory.total --format=csv || true
    step "portable-mode hashes: this device against lavapipe's (docs/portable-hashes.md)"
    # Every row must print 'ok': the same bits as lavapipe and the C++ oracle. A MISMATCH row
    # fails the check; `tessera_tests --gtest_filter='PortableOps*'` above names the op.
    "$here/bin/tessera" hash --table "$here/portable/hashes.txt" --models "$here/models" || status=1
    step "done in $((SECONDS - t0)) s, status $status"
  } 2>&1 | tee "$out/check.log"
  status=$(tail -1 "$out/check.log" | sed -n 's/.*status \([0-9]*\) ===$/\1/p')
  write_reports "$out" "$dry"
  return "${status:-1}"
}

# report.md is the log in a code block under a short summary; report.json holds the summary, the
# test results and the conv benchmark's own JSON.
write_reports() {
  local out="$1" dry="$2" py
  py="${TESSERA_PYTHON:-$(command -v python3 || true)}"
  if [ -z "$py" ]; then
    { echo "# Tessera GPU check"; echo; echo '```'; cat "$out/check.log"; echo '```'; } >"$out/report.md"
    echo '{"error": "no python3 to summarise the check"}' >"$out/report.json"
    return
  fi
  "$py" - "$out" "$dry" <<'EOF'
import json, os, re, sys
out, dry = sys.argv[1], sys.argv[2] == "1"
log = open(os.path.join(out, "check.log")).read()
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None
tests = load("tests.json") or {}
device = re.search(r"^device: (.*)$", log, re.M)
summary = {
    "dry_run": dry,
    "device": device.group(1) if device else None,
    "tests": {k: tests.get(k) for k in ("tests", "failures", "disabled", "errors", "time")},
    "failed_tests": [f"{s['name']}.{t['name']}" for s in tests.get("testsuites", [])
                     for t in s.get("testsuite", []) if t.get("failures")],
    "status": int(re.search(r"status (\d+) ===\s*$", log).group(1)) if re.search(r"status (\d+) ===\s*$", log) else 1,
    "bench_conv": load("bench-conv.json"),
    "lines": [l for l in log.splitlines() if re.search(r"ms/step|GFLOP/s|ratio|MiB|images/s", l)],
}
json.dump(summary, open(os.path.join(out, "report.json"), "w"), indent=1)
with open(os.path.join(out, "report.md"), "w") as f:
    f.write("# Tessera GPU check%s\n\n" % (" (dry run)" if dry else ""))
    f.write(f"- device: {summary['device']}\n- tests: {summary['tests']['tests']} run, "
            f"{summary['tests']['failures']} failed {summary['failed_tests'] or ''}\n- status: {summary['status']}\n\n")
    f.write("## Log\n\n```\n" + log + "\n```\n")
EOF
}

case "${1:-}" in
  bundle) shift; make_bundle "$@" ;;
  run) shift; run_check "$@" ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds
# a release build and an AddressSanitizer/UBSan build, runs every test in both on the
# Vulkan device Tessera picks (lavapipe where there is no GPU) with validation layers on, and
# fuzzes the model-file parser for a bounded number of inputs.
# Usage: tools/test.sh            (CI=true is honoured; TESSERA_JOBS sets build parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

jobs=${TESSERA_JOBS:-$(nproc)}
export TESSERA_VALIDATION=1
# lavapipe prints a "not a conformant implementation" warning on every device creation.
export MESA_VK_IGNORE_CONFORMANCE_WARNING=1

step() { printf '\n=== %s ===\n' "$*"; }

step "release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j "$jobs"

step "tests (release)"
ctest --test-dir build --output-on-failure

step "PyTorch sampler reference self-checks"
# Closed-form checks of tools/reference/samplers.py, which the C++ sampler tests compare against
# (~10 s, so not inside tessera_tests). Skipped where /usr/bin/python3 has no torch, like the tests.
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 tools/reference/test_samplers_selfcheck.py
else
  echo "skipped: /usr/bin/python3 cannot import torch"
fi

step "GPU check bundle, dry run on this device (docs/gpu.md)"
# Built here, then run from a copy elsewhere, as on a GPU machine.
tools/gpu/check.sh bundle build/gpu-bundle
rm -rf build/gpu-bundle-copy build/gpu-check && cp -r build/gpu-bundle build/gpu-bundle-copy
build/gpu-bundle-copy/check.sh run --out build/gpu-check --dry-run >/dev/null ||
  { cat build/gpu-check/check.log; exit 1; }
grep -A3 '^- device' build/gpu-check/report.md

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTESSERA_SANITIZE=ON >/dev/null
ninja -C build-asan -j "$jobs" tessera_tests

step "tests (ASan + UBSan)"
# The Vulkan loader, Mesa and the validation layer keep process-lifetime allocations that
# LeakSanitizer would report; our own leaks are caught by the suppression-free build of
# everything else, so only those libraries are suppressed.
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Suites that run whole generations at length to measure their output (seams of the bundled
# models, sampled distributions, portable mode's bits against the oracle and across variants)
# run the same code as the sampling tests; in the release pass they cost two minutes, here
# five, and find nothing the other suites' memory checks do not.
ctest --test-dir build-asan --output-on-failure \
  -E '^(SeamlessTest|GaussianSamplerTest|PortableSamplesTest|PortableGenerationTest)$'

step "fuzzing the model-file parser (bounded)"
unset LSAN_OPTIONS
tools/fuzz.sh 20000

step "all tests passed"

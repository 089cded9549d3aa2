#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for a bounded number of
# inputs over its seed corpus in fuzz/corpus/. New interesting inputs go to
# build-fuzz/corpus/ (not committed); a crash leaves crash-* in the working directory and
# fails the script.
# Usage: tools/fuzz.sh [RUNS]     (default 20000; TESSERA_JOBS sets build parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20000}
jobs=${TESSERA_JOBS:-2}

cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_FUZZERS=ON >/dev/null
ninja -C build-fuzz -j "$jobs" fuzz_safetensors

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p build-fuzz/corpus/safetensors
./build-fuzz/fuzz_safetensors -runs="$runs" -max_len=4096 -dict=fuzz/safetensors.dict \
  -print_final_stats=1 build-fuzz/corpus/safetensors fuzz/corpus
echo "fuzz_safetensors: $runs runs without a failure"

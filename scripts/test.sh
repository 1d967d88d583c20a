#!/usr/bin/env bash
# Installs what is needed, builds, checks formatting and runs every test. The README's test command.
# ODRGW_SANITIZE=1 also builds and tests under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

build() {  # build <dir> <cmake args...>
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# Formatting is part of the build: a diff fails it.
bash scripts/format.sh --check

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${ODRGW_SANITIZE:-1}" = "1" ]; then
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DODRGW_SANITIZE=ON -DODRGW_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi

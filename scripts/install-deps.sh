#!/usr/bin/env bash
# Installs every Debian 12 package odrgw needs to build, test and benchmark.
# Idempotent and non-interactive; run as root (or it re-runs itself with sudo).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format git
  # libraries (Boost 1.81 for Beast/Asio/URL: Debian's default 1.74 is older)
  libboost1.81-dev libboost-url1.81-dev
  rapidjson-dev libvalijson-dev libxml2-dev libxml2-utils
  libssl-dev libsqlite3-dev libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libre2-dev libidn2-dev
  prometheus-cpp-dev  # gateway metrics (core library only)
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev openssl sqlite3 curl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh image may have no package lists yet; refresh once, then install.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"

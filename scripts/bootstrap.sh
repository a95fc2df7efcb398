#!/usr/bin/env bash
# Installs what the build needs (Debian 12 packages) when it is missing, then
# configures and builds into build/. Sourced by ./run_experiment and ./run_tests,
# so the two commands in the README are the whole set-up on a fresh machine.
set -euo pipefail

DR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DR_BUILD=${DR_BUILD:-$DR_ROOT/build}
DR_PACKAGES=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev libcjson-dev
             libcmocka-dev libxgboost-dev libtomlplusplus-dev)

dr_install_missing() {
    local missing=()
    for p in "${DR_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "defrisk: installing missing packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "defrisk: run as root or install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

dr_build() {
    # Re-configure only when there is no build yet; cmake re-globs sources itself.
    if [ ! -f "$DR_BUILD/CMakeCache.txt" ]; then
        cmake -S "$DR_ROOT" -B "$DR_BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >&2
    fi
    cmake --build "$DR_BUILD" -j"$(nproc)" >&2
}

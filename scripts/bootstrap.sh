#!/usr/bin/env bash
# Installs what the build needs (Debian 12 packages, and LightGBM's C library from
# PyPI) when it is missing, then configures and builds into build/. Sourced by
# ./run_experiment and ./run_tests,
# so the two commands in the README are the whole set-up on a fresh machine.
set -euo pipefail

DR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DR_BUILD=${DR_BUILD:-$DR_ROOT/build}
DR_PACKAGES=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev libcjson-dev
             libcmocka-dev libxgboost-dev libtomlplusplus-dev libopenmpi-dev openmpi-bin curl ca-certificates unzip)

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

# LightGBM has no Debian package: its library comes from the PyPI wheel (which
# ships lib_lightgbm.so with the whole C API) and its headers from the source
# distribution, both pinned by SHA-256, into .deps/lightgbm/. CMake finds them
# there; without them the framework builds and refuses the "lightgbm" model.
DR_LIGHTGBM_VERSION=4.7.0
DR_LIGHTGBM_FILES=https://files.pythonhosted.org/packages
DR_LIGHTGBM_SDIST=63/8e/4db5e29290d7e619c307fdb8dab0a0514090af2ce3ec483050e024ec6126/lightgbm-4.7.0.tar.gz
DR_LIGHTGBM_SDIST_SHA=f8e20f682c9aabd000bcf4a7ed8aa6f473c1adfecccae34ec24e823d156f4af0

dr_fetch_lightgbm() {
    local dir=$DR_ROOT/.deps/lightgbm wheel sha
    [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$DR_LIGHTGBM_VERSION" ] && return 0
    case "$(uname -m)" in
    x86_64) wheel=15/eb/837ea3b40cc36e22eeebb9785c01e42b2c255d033eea1d2d9ee8e2540e55/lightgbm-4.7.0-py3-none-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
            sha=d23e922acd891e77212e4d0fbcee9ba973c96dee479491341d05ba595357ebb7 ;;
    aarch64) wheel=c6/a3/b29580948b92e8c2f84dea70118ac702ff067dc52ec4ffb5d73c953536a5/lightgbm-4.7.0-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl
             sha=d4529acec5c6fefe4768302a529707d0ead90f6a6f42df694b856212e09695b8 ;;
    *) echo "defrisk: no LightGBM $DR_LIGHTGBM_VERSION wheel for $(uname -m); building without LightGBM" >&2
       return 0 ;;
    esac
    echo "defrisk: fetching LightGBM $DR_LIGHTGBM_VERSION (library and headers) from PyPI into $dir" >&2
    local tmp
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/lightgbm.whl" "$DR_LIGHTGBM_FILES/$wheel"
    curl -fsSL --retry 3 -o "$tmp/lightgbm.tar.gz" "$DR_LIGHTGBM_FILES/$DR_LIGHTGBM_SDIST"
    if ! printf '%s  %s\n%s  %s\n' "$sha" "$tmp/lightgbm.whl" "$DR_LIGHTGBM_SDIST_SHA" "$tmp/lightgbm.tar.gz" |
            sha256sum -c --quiet >&2; then
        rm -rf "$tmp"
        echo "defrisk: LightGBM downloads do not match their pinned SHA-256" >&2
        exit 1
    fi
    rm -rf "$dir"
    mkdir -p "$dir/lib" "$dir/include"
    unzip -q -j "$tmp/lightgbm.whl" lightgbm/lib/lib_lightgbm.so -d "$dir/lib"
    tar -xzf "$tmp/lightgbm.tar.gz" -C "$dir/include" --strip-components=2 \
        "lightgbm-$DR_LIGHTGBM_VERSION/include/LightGBM/c_api.h" \
        "lightgbm-$DR_LIGHTGBM_VERSION/include/LightGBM/arrow.h" \
        "lightgbm-$DR_LIGHTGBM_VERSION/include/LightGBM/export.h"
    rm -rf "$tmp"
    echo "$DR_LIGHTGBM_VERSION" > "$dir/VERSION" # last: a cut-short fetch is redone
}

dr_build() {
    dr_fetch_lightgbm
    # Configure when there is no build yet, a configure failed half-way, or
    # LightGBM arrived after it; otherwise cmake re-globs sources itself.
    if [ ! -f "$DR_BUILD/Makefile" ] || [ "$DR_ROOT/.deps/lightgbm/VERSION" -nt "$DR_BUILD/CMakeCache.txt" ]; then
        cmake -S "$DR_ROOT" -B "$DR_BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >&2
    fi
    cmake --build "$DR_BUILD" -j"$(nproc)" >&2
}

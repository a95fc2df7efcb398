#!/usr/bin/env bash
# The build's Debian 12 packages as .deb files, for a machine that has a compiler,
# CMake and CUDA but neither these packages nor a way to fetch them (the lent GPU
# machines: no network, no apt). Two commands:
#
#   scripts/gpu_deps.sh [fetch] [DIR]     on Debian 12 with apt reachable: downloads
#       the -dev packages of scripts/bootstrap.sh, pkgconf, and every library they
#       need at run time (the closure of their Depends, less what every machine with
#       a C/C++ toolchain has: libc6, libgcc-s1, libstdc++6, libgomp1) into DIR
#       (default .gpudeps/, ignored by git), with a MANIFEST of names, versions and
#       sizes. Size: about 20 MiB.
#   scripts/gpu_deps.sh unpack DIR PREFIX   anywhere: unpacks DIR/*.deb into PREFIX
#       (with dpkg-deb -x, or python3 where there is no dpkg or DR_GPU_DEPS_NO_DPKG=1
#       is set), never into /, points
#       absolute symbolic links into PREFIX, rewrites the pkg-config files to PREFIX,
#       and writes PREFIX/drdeps.cmake, a CMake initial cache for `cmake -C` that
#       finds every dependency in PREFIX and links the programs with an RPATH to
#       PREFIX's libraries (no LD_LIBRARY_PATH needed to run them).
#
# bench/gpu_check.sh runs `unpack` itself when the packages are missing and
# .gpudeps/ is there; its header gives the device call.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARCH_TRIPLET=x86_64-linux-gnu

# What the build uses (CMakeLists.txt): the -dev packages with the headers, .so
# links, pkg-config and CMake files, and the libraries they link to. The -dev
# packages' own Depends (Fortran and C++ HDF5, libcurl-dev, libssl-dev, ...) are not
# needed to build against the C libraries and are left out on purpose.
DEV_PACKAGES=(libopenblas-pthread-dev libhdf5-dev libcjson-dev libcmocka-dev libxgboost-dev
              libtomlplusplus-dev)
RUNTIME_ROOTS=(libopenblas0-pthread libhdf5-103-1 libcjson1 libcmocka0 libxgboost0 libtomlplusplus3
               pkgconf-bin libpkgconf3)
# Part of every Linux with gcc/g++ (and must come from the system's compiler, which
# may be newer than Debian 12's: an older libstdc++ or libgomp first on the library
# path would break programs built by it).
EXCLUDE='^(libc6|libgcc-s1|libstdc\+\+6|libgomp1|gcc-[0-9]+-base|libcrypt1|debconf|perl-base|dpkg|tar|install-info)$'

fetch() {
    local dir=${1:-$ROOT/.gpudeps}
    command -v apt-get >/dev/null || { echo "gpu_deps: fetch needs apt-get (Debian 12)" >&2; exit 1; }
    if ! grep -q '^12' /etc/debian_version 2>/dev/null; then
        echo "gpu_deps: warning: this is not Debian 12 ($(cat /etc/debian_version 2>/dev/null || echo '?')):" \
             "the libraries must not need a newer glibc than the GPU machine's" >&2
    fi
    if [ "$(id -u)" -eq 0 ] && [ -z "${DR_NO_APT_UPDATE:-}" ]; then
        apt-get update -qq
    fi
    local closure
    closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
                  --no-replaces --no-enhances "${RUNTIME_ROOTS[@]}" |
              grep -v -e '^ ' -e '^<' | sort -u | grep -Ev "$EXCLUDE")
    local pkgs
    mapfile -t pkgs < <(printf '%s\n' "${DEV_PACKAGES[@]}" "$closure" | sort -u)
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    # apt-get download drops root to _apt where it can; a root-owned folder is fine
    # (a failed download shows in the count below)
    (cd "$dir.tmp" && { apt-get download -q "${pkgs[@]}" 2>&1 | grep -v -e "^Get:" -e "unsandboxed"; true; })
    local n
    n=$(find "$dir.tmp" -name '*.deb' | wc -l)
    if [ "$n" -ne "${#pkgs[@]}" ]; then
        echo "gpu_deps: downloaded $n of ${#pkgs[@]} packages: ${pkgs[*]}" >&2
        exit 1
    fi
    {
        echo "# scripts/gpu_deps.sh fetch, $(date -u +%Y-%m-%dT%H:%M:%SZ), Debian $(cat /etc/debian_version)"
        echo "# package version bytes sha256"
        for f in "$dir.tmp"/*.deb; do
            echo "$(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version) $(stat -c %s "$f")" \
                 "$(sha256sum "$f" | cut -d' ' -f1)"
        done
    } >"$dir.tmp/MANIFEST"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "gpu_deps: $n packages, $(du -sh "$dir" | cut -f1) in $dir"
}

# Unpacks one .deb without dpkg: an ar archive holding data.tar.{xz,gz,zst}.
py_extract() {
    python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    blob = f.read()
if blob[:8] != b"!<arch>\n":
    sys.exit(f"{deb}: not a .deb (ar) archive")
pos = 8
while pos + 60 <= len(blob):
    name = blob[pos:pos + 16].decode().strip().rstrip("/")
    size = int(blob[pos + 48:pos + 58].decode().strip())
    data = blob[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        if name.endswith(".zst"):
            sys.exit(f"{deb}: {name}: zstd is not readable by this python; use dpkg-deb")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
            if hasattr(tarfile, "fully_trusted_filter"):
                t.extractall(dest, filter="fully_trusted")  # absolute links are fixed afterwards
            else:
                t.extractall(dest)
        sys.exit(0)
sys.exit(f"{deb}: no data.tar member")
EOF
}

unpack() {
    local dir=$1 prefix=$2
    [ -f "$dir/MANIFEST" ] || { echo "gpu_deps: $dir/MANIFEST missing: run scripts/gpu_deps.sh fetch" >&2; exit 1; }
    case "$prefix" in /*) ;; *) echo "gpu_deps: PREFIX must be absolute" >&2; exit 1 ;; esac
    [ "$prefix" != / ] || { echo "gpu_deps: refusing to unpack into /" >&2; exit 1; }
    rm -rf "$prefix"
    mkdir -p "$prefix"
    local deb
    for deb in "$dir"/*.deb; do
        if command -v dpkg-deb >/dev/null && [ -z "${DR_GPU_DEPS_NO_DPKG:-}" ]; then
            dpkg-deb -x "$deb" "$prefix"
        else
            py_extract "$deb" "$prefix"
        fi
    done
    # Absolute links (/usr/lib/... as dpkg would install them) must point into PREFIX.
    local link target
    while IFS= read -r -d '' link; do
        target=$(readlink "$link")
        case "$target" in /*) ln -sfn "$prefix$target" "$link" ;; esac
    done < <(find "$prefix" -type l -print0)
    local lib=$prefix/usr/lib/$ARCH_TRIPLET
    # pkg-config files name /usr: make them name PREFIX/usr
    sed -i -e "s|=/usr\b|=$prefix/usr|g" -e "s|-I/usr/|-I$prefix/usr/|g" -e "s|-L/usr/|-L$prefix/usr/|g" \
        "$lib"/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc 2>/dev/null || true
    # Debian 12's pkgconf, seeing only PREFIX's .pc files (the system may have no pkg-config)
    mkdir -p "$prefix/bin"
    cat >"$prefix/bin/pkg-config" <<EOF
#!/bin/sh
PKG_CONFIG_LIBDIR=$lib/pkgconfig:$prefix/usr/share/pkgconfig LD_LIBRARY_PATH=$lib exec $prefix/usr/bin/pkgconf "\$@"
EOF
    chmod +x "$prefix/bin/pkg-config"
    "$prefix/bin/pkg-config" --exists libcjson cmocka ||
        { echo "gpu_deps: pkgconf from $prefix does not run or finds no libcjson/cmocka" >&2; exit 1; }
    # Debian 12 still puts some libraries (zlib, com_err, keyutils) in /lib
    local libdirs="$lib;$lib/openblas-pthread;$lib/hdf5/serial;$prefix/lib/$ARCH_TRIPLET"
    local linkdirs="-Wl,-rpath-link,$lib -Wl,-rpath-link,$lib/openblas-pthread"
    linkdirs+=" -Wl,-rpath-link,$prefix/lib/$ARCH_TRIPLET"
    cat >"$prefix/drdeps.cmake" <<EOF
# Initial cache (cmake -C) written by scripts/gpu_deps.sh unpack: every dependency
# from $prefix, the programs linked with an RPATH (DT_RPATH, not RUNPATH, so that it
# also serves the libraries' own dependencies, e.g. libhdf5 -> libcurl) to it.
set(CMAKE_PREFIX_PATH "$prefix/usr" CACHE STRING "")
set(PKG_CONFIG_EXECUTABLE "$prefix/bin/pkg-config" CACHE FILEPATH "")
# FindHDF5: Debian's serial layout; no h5cc wrapper (hdf5-helpers is not unpacked)
set(HDF5_ROOT "$lib/hdf5/serial" CACHE PATH "")
set(HDF5_NO_FIND_PACKAGE_CONFIG_FILE ON CACHE BOOL "")
# Debian selects OpenBLAS's cblas.h and libopenblas.so through alternatives links,
# which dpkg-deb -x does not make: name them.
set(OPENBLAS_INCLUDE "$prefix/usr/include/$ARCH_TRIPLET/openblas-pthread" CACHE PATH "")
set(OPENBLAS_LIB "$lib/openblas-pthread/libopenblas.so" CACHE FILEPATH "")
set(XGBOOST_INCLUDE "$prefix/usr/include" CACHE PATH "")
set(XGBOOST_LIB "$lib/libxgboost.so" CACHE FILEPATH "")
set(CMAKE_BUILD_RPATH "$libdirs" CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS "-Wl,--disable-new-dtags $linkdirs" CACHE STRING "")
# CMake 4 refuses config files that ask for policies older than 3.5
set(CMAKE_POLICY_VERSION_MINIMUM 3.5 CACHE STRING "")
EOF
    echo "gpu_deps: $(find "$dir" -name '*.deb' | wc -l) packages unpacked into $prefix;" \
         "cmake -C $prefix/drdeps.cmake"
}

case "${1:-fetch}" in
    fetch) fetch "${2:-}" ;;
    unpack) [ $# -eq 3 ] || { echo "usage: $0 unpack DIR PREFIX" >&2; exit 2; }; unpack "$2" "$3" ;;
    -h|--help) sed -n '2,20p' "$0" ;;
    *) echo "usage: $0 [fetch [DIR] | unpack DIR PREFIX]" >&2; exit 2 ;;
esac

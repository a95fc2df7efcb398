#!/usr/bin/env bash
# The Python of the peers, interop tests and reports: virtual environments with
# the pinned packages of scripts/python/NAME.txt (Debian's python3 and
# python3-venv installed when missing): interop -> .venv, report -> .venv-report,
# torch -> .venv-torch (the PyTorch peer of bench/, about 4 GB: never in CI).
# Sourced; dr_python_env [NAME] (default interop) prints nothing and leaves
# $DR_PYTHON set to the environment's interpreter.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

dr_python_env() {
    local name=${1:-interop}
    local venv=$DR_ROOT/.venv req=$DR_ROOT/scripts/python/$name.txt
    [ "$name" = interop ] || venv=$DR_ROOT/.venv-$name
    dr_install_missing python3 python3-venv
    if [ ! -x "$venv/bin/python" ]; then
        /usr/bin/python3 -m venv "$venv" >&2
    fi
    # reinstall only when the pins changed since the last install
    if ! cmp -s "$req" "$venv/installed.txt"; then
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2 || return 1
        cp "$req" "$venv/installed.txt"
    fi
    DR_PYTHON=$venv/bin/python
}

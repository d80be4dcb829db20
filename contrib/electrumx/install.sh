#!/usr/bin/env bash
# Installs ElectrumX (PyPI package `e-x`) and plyvel (its LevelDB binding) into a
# virtualenv, for the differential tests (`tests/differential.rs`), which run the same
# requests against ElectrumX and FerrumX on the same stand-in chain.
#
#   contrib/electrumx/install.sh            # 1.20.0, venv in ${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrumx-venv
#   contrib/electrumx/install.sh 2.0.0      # 2.0.0 (protocol 1.7), venv in .../electrumx2-venv
#
# Needs (Debian packages): python3 python3-venv python3-dev, and, when pip has to build
# plyvel from source (no wheel for this Python/platform), g++ and libleveldb-dev.
# This script does not install them; it says which ones are missing.
# Prints the path of `electrumx_server` as its last line.
set -euo pipefail

EX_VERSION="${1:-1.20.0}"
CACHE="${FERRUMX_CACHE:-$HOME/.cache/ferrumx}"
case "$EX_VERSION" in
    1.20.0) VENV="$CACHE/electrumx-venv" ;;
    2.0.0) VENV="$CACHE/electrumx2-venv" ;;
    *)
        echo "electrumx: version $EX_VERSION: expected 1.20.0 or 2.0.0" >&2
        exit 2
        ;;
esac
PYTHON="${PYTHON:-python3}"
SERVER="$VENV/bin/electrumx_server"

installed_version() {
    "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m, plyvel  # noqa: F401  (plyvel must import, too)
print(m.version("e-x"))
PY
}

if [ -x "$SERVER" ] && [ "$(installed_version || true)" = "$EX_VERSION" ]; then
    echo "electrumx: e-x $EX_VERSION already installed in $VENV" >&2
    echo "$SERVER"
    exit 0
fi

# Missing Debian packages (only a hint: pip may find wheels and not need all of them).
if command -v dpkg >/dev/null 2>&1; then
    missing=()
    for pkg in python3 python3-venv python3-dev g++ libleveldb-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "electrumx: missing Debian packages: ${missing[*]}" >&2
        echo "electrumx:   apt-get install -y ${missing[*]}" >&2
        echo "electrumx: (trying anyway: pip may find wheels)" >&2
    fi
fi

if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "electrumx: $PYTHON has no venv/ensurepip module: apt-get install python3-venv" >&2
    exit 1
fi

echo "electrumx: creating $VENV" >&2
rm -rf "$VENV"
mkdir -p "$CACHE"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || true
if ! "$VENV/bin/python" -m pip install --quiet "e-x==$EX_VERSION" plyvel >&2; then
    echo "electrumx: pip install failed; building plyvel from source needs g++ and" \
        "libleveldb-dev (apt-get install -y g++ libleveldb-dev python3-dev)" >&2
    rm -rf "$VENV"
    exit 1
fi
if [ "$(installed_version || true)" != "$EX_VERSION" ]; then
    echo "electrumx: e-x $EX_VERSION or plyvel does not import in $VENV" >&2
    exit 1
fi
echo "electrumx: installed e-x $EX_VERSION in $VENV" >&2
echo "$SERVER"

#!/usr/bin/env bash
# Installs the Python dependencies of a checkout of Electrum's `protocol_1.7` branch
# (spesmilo/electrum, PROTOCOL_VERSION_MIN = MAX = '1.7') into a virtualenv, for
# `tests/electrum_wallet17.rs`, which runs that checkout as a wallet against FerrumX.
#
#   contrib/electrum17/install.sh CHECKOUT   # venv in ${FERRUMX_CACHE:-$HOME/.cache/ferrumx}/electrum17-venv
#
# The branch is on no package registry and the project carries no code from elsewhere:
# fetch the repository and check out the branch yourself, e.g.
#   git clone -b protocol_1.7 https://github.com/spesmilo/electrum CHECKOUT
# The checkout is only read: its own requirements (contrib/requirements/requirements.txt,
# plus `cryptography`, which Electrum wants for its crypto and dnspython's DNSSEC) come from
# PyPI into the virtualenv, and the test runs `VENV/bin/python CHECKOUT/run_electrum`
# without writing bytecode into it (no `pip install -e`, which would write egg-info there).
#
# Needs (Debian packages): python3 python3-venv, and libsecp256k1-1 (the curve library
# that `electrum_ecc` loads through ctypes; told not to compile its own copy). This
# script does not install them; it says which ones are missing.
# Prints the path of the virtualenv's python as its last line.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 CHECKOUT   (a checkout of spesmilo/electrum's protocol_1.7 branch)" >&2
    exit 2
fi
CHECKOUT="$(cd "$1" && pwd)"
REQS="$CHECKOUT/contrib/requirements/requirements.txt"
if [ ! -f "$CHECKOUT/run_electrum" ] || [ ! -f "$REQS" ]; then
    echo "electrum17: $CHECKOUT is not an Electrum checkout (no run_electrum or $REQS)" >&2
    exit 1
fi
if ! grep -q "PROTOCOL_VERSION_MIN = '1.7'" "$CHECKOUT/electrum/version.py"; then
    echo "electrum17: $CHECKOUT/electrum/version.py does not say PROTOCOL_VERSION_MIN = '1.7'" \
        "(check out the protocol_1.7 branch)" >&2
    exit 1
fi
CACHE="${FERRUMX_CACHE:-$HOME/.cache/ferrumx}"
VENV="$CACHE/electrum17-venv"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"

imports_ok() {
    # The imports run_electrum checks at start-up, and the curve library.
    (cd / && "$VENV/bin/python" - <<'PY') >/dev/null 2>&1
import dns, certifi, qrcode, google.protobuf, aiorpcx, aiohttp, aiohttp_socks, jsonpatch
import electrum_aionostr, cryptography
import electrum_ecc
electrum_ecc.ECPrivkey.generate_random_key()
PY
}

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null || true)" = "$want" ] && imports_ok; then
    echo "electrum17: dependencies already installed in $VENV" >&2
    echo "$VENV/bin/python"
    exit 0
fi

if command -v dpkg >/dev/null 2>&1; then
    missing=()
    for pkg in python3 python3-venv libsecp256k1-1; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "electrum17: missing Debian packages: ${missing[*]}" >&2
        echo "electrum17:   apt-get install -y ${missing[*]}" >&2
        echo "electrum17: (trying anyway)" >&2
    fi
fi

if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "electrum17: $PYTHON has no venv/ensurepip module: apt-get install python3-venv" >&2
    exit 1
fi

echo "electrum17: creating $VENV" >&2
rm -rf "$VENV"
mkdir -p "$CACHE"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || true
# electrum_ecc: use the system's libsecp256k1 rather than building one.
if ! ELECTRUM_ECC_DONT_COMPILE=1 "$VENV/bin/python" -m pip install --quiet \
    -r "$REQS" "cryptography>=2.6" >&2; then
    echo "electrum17: pip install failed" >&2
    rm -rf "$VENV"
    exit 1
fi
if ! imports_ok; then
    echo "electrum17: the dependencies do not import in $VENV (is libsecp256k1-1 installed?)" >&2
    exit 1
fi
echo "$want" >"$STAMP"
echo "electrum17: installed the dependencies of $CHECKOUT in $VENV" >&2
echo "$VENV/bin/python"

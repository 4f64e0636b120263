#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need and is missing (poppler-utils, whose
# pdftotext and pdftoppm read back the printed reports; Node and npm, with the pinned stock automerge-repo
# peer in tests/stock), runs every test of the workspace, then the mobile
# bindings end to end in Kotlin on the JVM and in Python (bindings/tests/run.sh installs their tools), and the
# short field-conditions run (tests/field/run.sh installs iptables). The console's browser stories need
# chromium (apt) and playwright-core (npm).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The web console's browser tests drive Debian's chromium.
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q "${missing[@]}" || {
        $sudo apt-get update -q && $sudo apt-get install -y -q "${missing[@]}"
    }
fi
# The stock automerge-repo peer the end-to-end suite drives, at the versions tests/stock/package-lock.json
# pins. `npm install` rather than `npm ci`: the registry this project reaches lacks cbor-x's optional native
# accelerators, which the lock therefore cannot list and `npm ci` would demand.
(cd tests/stock && npm install --no-audit --no-fund --loglevel=error)
# playwright-core, pinned by tests/console/package-lock.json, drives chromium through the console's stories.
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
cargo test --workspace --locked "$@"
bindings/tests/run.sh
# The short field-conditions run (network namespaces, a shaped 2G link; needs root).
tests/field/run.sh --short

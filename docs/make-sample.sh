#!/usr/bin/env bash
# Makes docs/class-journal-sample.png: the first page of a class journal as the relay prints it (class 5А,
# mathematics, first term, a generated year of 25 students: journal-loadgen's workload), rendered by pdftoppm
# (poppler-utils). Run from anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --locked --workspace --lib --bins --tests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/debug/journal-loadgen generate --data-dir "$work/data" --classes 1
target/debug/journal-relay report class-journal --data-dir "$work/data" --class 5a --subject math --term t1 \
    -o "$work/journal.pdf"
pdftoppm -png -r 70 -f 1 -l 1 -singlefile "$work/journal.pdf" docs/class-journal-sample
echo "wrote docs/class-journal-sample.png"

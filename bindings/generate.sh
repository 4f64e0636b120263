#!/usr/bin/env bash
# Regenerates the Kotlin, Swift and Python bindings from the built library with the pinned uniffi-bindgen.
# `--check` regenerates into a scratch directory and fails when a committed file differs (CI runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[[ ${1:-} == --check ]] && check=true

# The same selection as `cargo test --workspace`, so after the tests this build is fresh (one package alone
# would resolve other features and compile the tree a second time).
cargo build --locked --workspace --lib --bins --tests
cargo build --locked --manifest-path bindings/uniffi-bindgen/Cargo.toml --target-dir target
library=target/debug/libjournal_mobile.so
bindgen=target/debug/uniffi-bindgen

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bindgen" generate --library "$library" --language kotlin --language swift --language python \
    --no-format --out-dir "$out"

# Where each generated file lives in the repository.
kotlin=android-shim/journal/src/main/kotlin/school/journal/ffi/journal_mobile.kt
swift=ios-shim/Sources/JournalFFI/JournalFFI.swift
header=ios-shim/Sources/JournalFFIFFI/include/JournalFFIFFI.h
modulemap=ios-shim/Sources/JournalFFIFFI/include/module.modulemap
python=bindings/python/journal_mobile.py
pairs=(
    "$out/school/journal/ffi/journal_mobile.kt:$kotlin"
    "$out/JournalFFI.swift:$swift"
    "$out/JournalFFIFFI.h:$header"
    "$out/JournalFFIFFI.modulemap:$modulemap"
    "$out/journal_mobile.py:$python"
)

status=0
for pair in "${pairs[@]}"; do
    generated=${pair%%:*}
    committed=${pair#*:}
    if $check; then
        if ! cmp -s "$generated" "$committed"; then
            echo "generated bindings differ from $committed: run bindings/generate.sh and commit" >&2
            status=1
        fi
    else
        mkdir -p "$(dirname "$committed")"
        cp "$generated" "$committed"
        echo "wrote $committed"
    fi
done
exit $status

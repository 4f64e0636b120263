#!/usr/bin/env bash
# Builds libjournal_mobile.so for every Android ABI into journal/src/main/jniLibs. Needs the Android NDK
# (ANDROID_NDK_HOME) and cargo-ndk (`cargo install cargo-ndk`), plus the Rust targets:
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$here/journal/src/main/jniLibs" \
    build --release --locked -p journal-bindings --lib
echo "native libraries in $here/journal/src/main/jniLibs; now: gradle :journal:assembleRelease"

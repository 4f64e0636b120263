#!/usr/bin/env bash
# Builds JournalFFIFFI.xcframework (the static library for devices and simulators, with the generated C
# header and module map). Needs Xcode and:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    cargo build --release --locked -p journal-bindings --lib --target "$target"
done
mkdir -p target/ios-sim
lipo -create target/aarch64-apple-ios-sim/release/libjournal_mobile.a \
    target/x86_64-apple-ios/release/libjournal_mobile.a -output target/ios-sim/libjournal_mobile.a
rm -rf "$here/JournalFFIFFI.xcframework"
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libjournal_mobile.a -headers "$here/Sources/JournalFFIFFI/include" \
    -library target/ios-sim/libjournal_mobile.a -headers "$here/Sources/JournalFFIFFI/include" \
    -output "$here/JournalFFIFFI.xcframework"
echo "built $here/JournalFFIFFI.xcframework"

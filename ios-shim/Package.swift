// swift-tools-version:5.9
// The journal's Rust core for iOS apps. Build the XCFramework first with ./build-xcframework.sh (needs Xcode
// and the Rust iOS targets).
import PackageDescription

let package = Package(
    name: "JournalKit",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "JournalKit", targets: ["JournalKit"]),
    ],
    targets: [
        // libjournal_mobile.a per platform, with the C header and module map of JournalFFIFFI.
        .binaryTarget(name: "JournalFFIFFI", path: "JournalFFIFFI.xcframework"),
        // The generated Swift bindings (bindings/generate.sh).
        .target(name: "JournalFFI", dependencies: ["JournalFFIFFI"], path: "Sources/JournalFFI"),
        // The thin Swift wrapper: async/await, an AsyncStream of sync events, a Keychain key provider.
        .target(name: "JournalKit", dependencies: ["JournalFFI"], path: "Sources/JournalKit"),
    ]
)

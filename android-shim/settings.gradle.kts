// The Android library that packages the journal's Rust core for apps. Build the native libraries first with
// ./build-android.sh (needs the Android NDK and cargo-ndk), then `gradle :journal:assembleRelease`.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "journal-android"
include(":journal")

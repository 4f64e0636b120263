#!/usr/bin/env bash
# The bindings end to end: checks the committed Kotlin, Swift and Python bindings match the library, then
# runs the mobile story against the real relay on 127.0.0.1 in Kotlin on the JVM (generated bindings, the
# Kotlin wrapper and a test program, compiled with kotlinc from npm and JNA from Debian) and in Python.
# Installs what it needs and is missing: a JRE, libjna-java (apt) and kotlin-compiler (npm, cached).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q "$@" >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}
command -v java >/dev/null || apt_install default-jre-headless
[[ -f /usr/share/java/jna.jar ]] || apt_install libjna-java
kotlin_version=2.4.20
kotlin_home=${KOTLIN_HOME:-$HOME/.cache/journal/kotlin-compiler-$kotlin_version}
if [[ ! -x $kotlin_home/bin/kotlinc ]]; then
    mkdir -p "$kotlin_home"
    scratch=$(mktemp -d)
    (cd "$scratch" && npm pack --silent "kotlin-compiler@$kotlin_version" >/dev/null && tar xzf kotlin-compiler-*.tgz)
    cp -r "$scratch/package/." "$kotlin_home/"
    rm -rf "$scratch"
    chmod +x "$kotlin_home/bin/"*
fi

bindings/generate.sh --check
# The same selection as `cargo test --workspace`, so after the tests this build is fresh (one package alone
# would resolve other features and compile the tree a second time).
cargo build --locked --workspace --lib --bins --tests

work=$(mktemp -d)
relays=()
cleanup() {
    for pid in "${relays[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a demo relay on a free loopback port; sets url, teacher_code and parent_code.
start_relay() {
    local dir=$work/$1
    mkdir -p "$dir"
    target/debug/journal-relay serve --demo --demo-class-size 3 --demo-without-history --demo-time-zone UTC --data-dir "$dir/data" --listen 127.0.0.1:0 --backup-hours 0 \
        >"$dir/relay.out" 2>"$dir/relay.log" &
    relays+=($!)
    for _ in $(seq 1 200); do
        grep -q "listening on" "$dir/relay.out" 2>/dev/null && break
        sleep 0.1
    done
    url=$(sed -n 's/^journal-relay listening on //p' "$dir/relay.out")
    [[ -n $url ]] || { echo "the relay did not start:" >&2; cat "$dir/relay.log" >&2; exit 1; }
    teacher_code=$(awk -F'\t' '$1 == "demo-code" && $2 == "t-5a" { print $4 }' "$dir/relay.out")
    parent_code=$(awk -F'\t' '$1 == "demo-code" && $2 == "parent-s5a1" { print $4 }' "$dir/relay.out")
}

# Kotlin on the JVM.
jars=/usr/share/java/jna.jar:$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar
"$kotlin_home/bin/kotlinc" -nowarn -cp "$jars" \
    android-shim/journal/src/main/kotlin/school/journal/ffi/journal_mobile.kt \
    android-shim/journal/src/main/kotlin/school/journal/Journal.kt \
    bindings/tests/jvm/Main.kt -d "$work/story.jar"
start_relay kotlin
mkdir -p "$work/kotlin/scratch"
java -Djna.library.path="$root/target/debug" \
    -cp "$work/story.jar:$jars:$kotlin_home/lib/kotlin-stdlib.jar" MainKt \
    "$url" "$teacher_code" "$parent_code" "$work/kotlin/scratch"

# Python.
mkdir -p "$work/python/module" "$work/python/scratch"
cp bindings/python/journal_mobile.py target/debug/libjournal_mobile.so "$work/python/module/"
start_relay python
PYTHONPATH="$work/python/module" python3 bindings/tests/python/smoke.py \
    "$url" "$teacher_code" "$parent_code" "$work/python/scratch"

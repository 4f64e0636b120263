#!/usr/bin/env bash
# Field conditions: the relay and a teacher's laptop in two network namespaces joined by a point-to-point
# link shaped like 2G: 64 kbit/s each way (tbf), 10 % loss (every 20th packet dropped on each side with
# iptables statistic: the same packets every run, so runs compare), 800 ms round trip, every packet held 400 ms each way by tests/field/link.py (two TUN
# devices; this kernel has no netem), so TCP sees the round trip in its handshake, acknowledgements and
# retransmissions. TCP's congestion control is the kernel's default, printed at the start. The demo school
# has 25 students a class, so a lesson is a real class's attendance.
#   ./tests/field/run.sh          the full run: five lessons one by one, a week offline (30 lessons), five cuts mid-sync
#   ./tests/field/run.sh --short  the CI variant: the same with two cuts
# Needs root; installs iptables with apt when missing. Prints the figures BENCHMARKS.md quotes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
short=false
[[ ${1:-} == --short ]] && short=true
profile=${FIELD_PROFILE:-debug}

command -v iptables >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q iptables >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q iptables >/dev/null; }
}
if [[ $profile == release ]]; then
    cargo build --locked --release -p journal-relay -p journal-e2e --bin journal-relay --bin journal-loadgen
else
    # As `cargo test --workspace` selects, so after the tests nothing is compiled again.
    cargo build --locked --workspace --lib --bins --tests
fi
relay_bin=$root/target/$profile/journal-relay
client_bin=$root/target/$profile/journal-loadgen

ns_relay=jfield-relay-$$
ns_client=jfield-client-$$
work=$(mktemp -d)
link_pid=
cleanup() {
    [[ -n $link_pid ]] && kill "$link_pid" 2>/dev/null || true
    ip netns pids "$ns_relay" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns pids "$ns_client" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns_relay" 2>/dev/null || true
    ip netns del "$ns_client" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_relay"
ip netns add "$ns_client"
in_relay() { ip netns exec "$ns_relay" "$@"; }
in_client() { ip netns exec "$ns_client" "$@"; }
python3 tests/field/link.py "$ns_client" "jfc$$" "$ns_relay" "jfr$$" 400 >"$work/link.out" 2>&1 &
link_pid=$!
for _ in $(seq 1 50); do grep -q "link up" "$work/link.out" 2>/dev/null && break; sleep 0.1; done
grep -q "link up" "$work/link.out" || { echo "the link did not come up" >&2; cat "$work/link.out" >&2; exit 1; }
in_relay ip addr add 10.77.0.1 peer 10.77.0.2 dev "jfr$$"
in_client ip addr add 10.77.0.2 peer 10.77.0.1 dev "jfc$$"
echo "TCP congestion control: $(in_client sysctl -n net.ipv4.tcp_congestion_control) on the laptop, $(in_relay sysctl -n net.ipv4.tcp_congestion_control) on the relay"
for side in relay client; do
    dev=$([[ $side == relay ]] && echo "jfr$$" || echo "jfc$$")
    "in_$side" ip link set lo up
    "in_$side" ip link set "$dev" up
    "in_$side" tc qdisc add dev "$dev" root tbf rate 64kbit burst 1600 latency 500ms
    "in_$side" iptables -A INPUT -i "$dev" -m statistic --mode nth --every 20 --packet 0 -j DROP
done

# The script enters September's lessons on whatever day it runs: the demo school's edit-lock window is off.
in_relay "$relay_bin" serve --demo --demo-class-size 25 --demo-without-history --demo-time-zone UTC --demo-edit-lock-days 0 --data-dir "$work/relay" --listen 10.77.0.1:8080 --backup-hours 0 \
    >"$work/relay.out" 2>"$work/relay.log" &
for _ in $(seq 1 100); do grep -q "listening on" "$work/relay.out" 2>/dev/null && break; sleep 0.1; done
token=$(awk -F'\t' '$1 == "demo-token" && $2 == "t-5a" { print $4 }' "$work/relay.out")
[[ -n $token ]] || { echo "the relay did not start" >&2; cat "$work/relay.log" >&2; exit 1; }

client() {
    in_client "$client_bin" field --url http://10.77.0.1:8080 --token "$token" --journal "$work/laptop.db" "$@" |
        tee -a "$work/client.out"
}
# Bytes on the wire both ways (TCP headers and retransmissions included), from the two tbf qdiscs.
sent_by() { "in_$1" tc -s qdisc show dev "jf${1:0:1}$$" | awk '/Sent/ { print $2; exit }'; }
wire_bytes() { echo $(($(sent_by client) + $(sent_by relay))); }
started=$(date +%s)
client --scenario lesson
before=$(wire_bytes)
client --scenario week
week_wire=$(($(wire_bytes) - before))

# Cuts: drop everything on the relay's side for a while, then restore, while the client syncs.
cuts=$($short && echo 2 || echo 5)
(
    sleep 3
    for _ in $(seq 1 "$cuts"); do
        in_relay iptables -I INPUT 1 -i "jfr$$" -j DROP
        sleep 4
        in_relay iptables -D INPUT -i "jfr$$" -j DROP
        sleep 3
    done
) &
cutter=$!
before=$(wire_bytes)
client --scenario cuts
cuts_wire=$(($(wire_bytes) - before))
wait "$cutter"
echo "field run done in $(($(date +%s) - started)) s ($cuts cuts)"

# The goals: a lesson's attendance reaches the relay within 10 s, a week offline within 60 s, and the
# session cut mid-way converges without sending the documents again (no more than 1.5× a clean week).
lesson_s=$(sed -n 's/^lesson: \([0-9.]*\) s.*/\1/p' "$work/client.out")
week_s=$(sed -n 's/^week: \([0-9.]*\) s.*/\1/p' "$work/client.out")
status=0
check() { if awk "BEGIN { exit !($2) }"; then echo "met: $1"; else echo "NOT MET: $1" >&2; status=1; fi; }
check "a lesson's attendance in ${lesson_s} s (≤ 10 s)" "$lesson_s <= 10"
check "a week offline in ${week_s} s (≤ 60 s)" "$week_s <= 60"
# Reported, not enforced: automerge 0.12 sends a document whole when a peer lacks more than a third of
# its changes, which 30 lessons are of the demo's small documents (BENCHMARKS.md).
echo "after $cuts cuts: ${cuts_wire} bytes on the wire, against ${week_wire} for a clean week of the same size"
exit $status

"""The latency of a 2G link, packet by packet: a point-to-point link between two network namespaces made of
two TUN devices, one in each, with every IP packet held for a fixed time before it is passed to the other
side. TCP on both ends sees the round trip in its handshake, its acknowledgements and its retransmission
timers, as on a real link (this kernel has no netem). Rate and loss are left to tc and iptables on the
devices, as on any interface.

Usage: link.py CLIENT_NAMESPACE CLIENT_DEVICE RELAY_NAMESPACE RELAY_DEVICE ONE_WAY_DELAY_MS
Runs until killed; the devices go with it."""

import ctypes
import fcntl
import heapq
import os
import select
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter(namespace):
    """Moves this process into a named network namespace (as `ip netns exec` would)."""
    fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"cannot enter network namespace {namespace}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def tun(name):
    """A TUN device of this name in the current namespace, carrying bare IP packets."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main(client_ns, client_dev, relay_ns, relay_dev, delay_ms):
    delay = delay_ms / 1000.0
    enter(client_ns)
    client = tun(client_dev)
    enter(relay_ns)
    relay = tun(relay_dev)
    other = {client: relay, relay: client}
    # Packets in flight: (when due, arrival order, where to, bytes). The order keeps packets of one
    # direction in sequence, as a link does.
    flight = []
    order = 0
    print("link up", flush=True)
    while True:
        now = time.monotonic()
        while flight and flight[0][0] <= now:
            _, _, to, packet = heapq.heappop(flight)
            try:
                os.write(to, packet)
            except BlockingIOError:
                pass  # the receiving side's queue is full: the packet is lost, as on a link
        timeout = max(0.0, flight[0][0] - now) if flight else None
        ready, _, _ = select.select([client, relay], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                order += 1
                heapq.heappush(flight, (now + delay, order, other[fd], packet))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))

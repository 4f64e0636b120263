#!/usr/bin/env python3
"""Prints the median of every criterion benchmark under target/criterion as a Markdown table."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def show(ns: float) -> str:
    for unit, size in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= size:
            return f"{ns / size:.3g} {unit}"
    return f"{ns:.3g} ns"


print("| benchmark | median | 95% CI of the median |")
print("|---|---|---|")
for path in sorted(root.glob("*/*/new/estimates.json")):
    median = json.loads(path.read_text())["median"]
    name = f"{path.parts[-4]}/{path.parts[-3]}"
    low, high = median["confidence_interval"]["lower_bound"], median["confidence_interval"]["upper_bound"]
    print(f"| {name} | {show(median['point_estimate'])} | {show(low)} – {show(high)} |")

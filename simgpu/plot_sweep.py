"""Plots simgpu's sync-interval sweep: tokens/s against syncs per token, one line per profile.

Usage: /usr/bin/python3 plot_sweep.py SWEEP.csv OUT.png
Called by `rwkv-oracle simulate --sweep` (needs Debian's python3-matplotlib).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path, png_path):
    series = {}
    title = ""
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            series.setdefault(row["profile"], []).append(
                (float(row["syncs_per_token"]), float(row["tokens_per_s"])))
            title = f"RWKV-7 {row['config']} {row['quant']}: tokens/s against syncs per token"
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("syncs per token (CPU waits)")
    ax.set_ylabel("tokens/s (simulated)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_sweep.py SWEEP.csv OUT.png")
    main(sys.argv[1], sys.argv[2])

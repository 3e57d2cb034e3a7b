#!/usr/bin/python3
"""Run-to-run spread of the CUDA decode measurements, against simgpu.

  scripts/cuda_run_spread.py MEASURED.json FIDELITY.md BENCH.md [BENCH.md ...] > spread.md

MEASURED.json: the run the profile was fitted on (reports/cuda/run2-measured.json);
FIDELITY.md: simgpu's predictions (reports/simgpu-cuda-fidelity.md, decode table);
BENCH.md: later passes of `rwkv-oracle bench --backend cuda` on the same models.
Prints, per case, every measured decode tok/s, their spread (max - min over the
median), simgpu's prediction and its error against the median.
"""
import json
import re
import statistics
import sys

MODELS = ("0.1b", "0.4b", "1.5b", "2.9b")


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def bench_decode(path):
    rows, col = {}, None
    for line in open(path):
        c = cells(line)
        if c and c[0] == "model":
            col = c.index("decode tok/s")
        elif col is not None and len(c) > col and c[0] in MODELS:
            rows[(c[0], c[1], c[2])] = float(c[col])
    return rows


def predictions(path):
    pred = {}
    for line in open(path):
        c = cells(line)
        if len(c) >= 6 and c[0] in MODELS and re.fullmatch(r"[\d.]+", c[4]) and (c[0], c[1], c[2]) not in pred:
            pred[(c[0], c[1], c[2])] = float(c[4])
    return pred


def main():
    measured = {(x["model"], x["weights"], x["strategy"]): x["decode_tok_s"]
                for x in json.load(open(sys.argv[1]))["cases"]}
    pred = predictions(sys.argv[2])
    passes = [bench_decode(p) for p in sys.argv[3:]]
    print("| model | weights | strategy | run 2 | " + " | ".join(f"pass {i + 1}" for i in range(len(passes))) +
          " | spread | simgpu | vs median |")
    print("|---" * (7 + len(passes)) + "|")
    within, spreads = 0, {}
    for key, p in pred.items():
        v = [measured[key]] + [r[key] for r in passes]
        med = statistics.median(v)
        spread = (max(v) - min(v)) / med
        err = (p - med) / med
        within += abs(err) <= 0.10
        spreads.setdefault("graph" if key[2].startswith("graph") else "host", []).append(spread)
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(f"{x:.1f}" for x in v) +
              f" | {spread * 100:.1f}% | {p:.1f} | {err * 100:+.1f}% |")
    print()
    print(f"simgpu within 10% of the median of {len(passes) + 1} runs: {within} of {len(pred)}. Spread "
          f"(max - min over median) of the graph strategies: at most {max(spreads['graph']) * 100:.1f}%; "
          f"of the host-launched ones (op, layer, token, inflight, token+pdl): "
          f"median {statistics.median(spreads['host']) * 100:.1f}%, at most {max(spreads['host']) * 100:.1f}%.")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Refits a measured CUDA profile's per-dispatch gaps to one measured model.

rwkv-oracle calibrate times each op alone (its launches replayed back to back
in a graph). In a real step consecutive kernels differ and depend on each
other, and the device spends more time between them than between repeats of
one kernel. This script takes the calibrated profile and the bench table
(rwkv-oracle bench --backend cuda --out), and sets
  replay_gap_us = (measured graph ms/token - sum of the ops' calibrated device
                   times less their replay gap) / dispatches
  gap_us        = calibrated gap_us + (replay_gap_us - calibrated replay_gap_us)
for one model and format (default 1.5b fp16), so the other sizes and formats
are held-out predictions. Writes the fitted profile.

  scripts/cuda_fit_profile.py PROFILE.json BENCH.md STEP_US OUT.json [MODEL] [FORMAT]
STEP_US: the calibrated sum of the decode step's op times (calibrate's
"1-token step: ... us of device time" line for that model and format).
"""
import json
import sys

profile, bench, step_us, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
model = sys.argv[5] if len(sys.argv) > 5 else "1.5b"
fmt = sys.argv[6] if len(sys.argv) > 6 else "fp16"
p = json.load(open(profile))
graph_ms = dispatches = None
for line in open(bench):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 11 and cells[0] == model and cells[1] == fmt and cells[2] == "graph":
        graph_ms, dispatches = float(cells[6]), int(cells[10])
if graph_ms is None:
    sys.exit(f"{bench}: no graph row for {model} {fmt}")
old_replay = p["replay_gap_us"]["value"]
device_only = step_us - dispatches * old_replay
replay = (graph_ms * 1000.0 - device_only) / dispatches
gap = p["gap_us"]["value"] + (replay - old_replay)
src = (f"fitted by scripts/cuda_fit_profile.py to the measured {model} {fmt} graph decode ({graph_ms} ms/token, "
       f"{dispatches} dispatches) and the calibrated op times ({step_us} us)")
p["name"] = p["name"] + "-fitted"
p["replay_gap_us"] = {"value": round(replay, 3), "source": src}
p["gap_us"] = {"value": round(gap, 3), "source": src + f"; calibrated gap {p['gap_us']['value']} us plus the same in-step excess"}
json.dump(p, open(out, "w"), indent=2)
print(f"replay_gap_us {old_replay} -> {replay:.3f}, gap_us -> {gap:.3f}; wrote {out}")

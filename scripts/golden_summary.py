#!/usr/bin/python3
"""Summarises a golden file (vectors/SCHEMA.md): what it holds and, per op, the
reference's own error against float64 (max over every step and layer), i.e. the
floor below which a backend's tolerance cannot go.

    /usr/bin/python3 scripts/golden_summary.py g.h5
"""
import collections
import sys

import h5py


def main(path):
    f = h5py.File(path, "r")
    p = f["provenance"].attrs
    print(f"{path}: {f.attrs['schema'].decode()}, {f.attrs['num_tokens']} tokens in {f.attrs['num_steps']} steps")
    print(f"  model {p['model_file'].decode()} sha256 {p['model_sha256'].decode()[:16]}...")
    print(f"  config {p['config'].decode()}")
    print(f"  precision {p['precision'].decode()}")
    worst = collections.OrderedDict()
    stacks = []  # (name, dataset): every layer and embedding op, a row per token
    if "embed" in f:
        stacks += list(f["embed"].items())
    for layer in f["layers"].values() if "layers" in f else []:
        stacks += list(layer.items())
    for name, d in stacks:
        env = f.get("envelope" + d.name)
        if env is None:
            continue
        cols = env.attrs["columns"].decode().split(",")
        e = env[()]  # [num_steps, columns]: the worst over steps
        w = worst.setdefault(name, [d.dtype, 0.0, 0.0, 0.0, d.attrs["kernel"].decode()])
        for i, col in enumerate(("max_abs_err_f64", "max_rel_err_f64", "max_abs_f64"), start=1):
            w[i] = max(w[i], float(e[:, cols.index(col)].max()))
    steps = len(f["steps"])
    print(f"  {len(stacks)} op stacks ({len(stacks) * steps} op tensors over {steps} steps) and {steps} logits; "
          "per op, the worst over all steps and layers:")
    print(f"  {'op':22} {'dtype':8} {'kernel':44} {'max |ref-f64|':>14} {'max rel':>10} {'max |f64|':>10}")
    for name, (dtype, a, r, m, kernel) in worst.items():
        print(f"  {name:22} {str(dtype):8} {kernel:44} {a:14.3g} {r:10.3g} {m:10.3g}")
    if "logits" in f["steps/0"]:
        l = f["steps/0/logits"]
        print(f"  logits {l.shape} f32: max |ref-f64| {l.attrs.get('max_abs_err_f64', float('nan')):.3g}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

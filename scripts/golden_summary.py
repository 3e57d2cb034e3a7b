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
    tensors = 0
    for s in f["steps"].values():
        for part in ("embed", "layers", "head"):
            if part not in s:
                continue
            groups = s[part].values() if part == "layers" else [s[part]]
            for g in groups:
                for name, d in g.items():
                    tensors += 1
                    if "max_abs_err_f64" not in d.attrs:
                        continue
                    w = worst.setdefault(name, [d.dtype, 0.0, 0.0, 0.0, d.attrs["kernel"].decode()])
                    w[1] = max(w[1], d.attrs["max_abs_err_f64"])
                    w[2] = max(w[2], d.attrs["max_rel_err_f64"])
                    w[3] = max(w[3], d.attrs["max_abs_f64"])
        tensors += 1  # logits
    print(f"  {tensors} op tensors; per op, the worst over all steps and layers:")
    print(f"  {'op':22} {'dtype':8} {'kernel':32} {'max |ref-f64|':>14} {'max rel':>10} {'max |f64|':>10}")
    for name, (dtype, a, r, m, kernel) in worst.items():
        print(f"  {name:22} {str(dtype):8} {kernel:32} {a:14.3g} {r:10.3g} {m:10.3g}")
    if "logits" in f["steps/0"]:
        l = f["steps/0/logits"]
        print(f"  logits {l.shape} f32: max |ref-f64| {l.attrs.get('max_abs_err_f64', float('nan')):.3g}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

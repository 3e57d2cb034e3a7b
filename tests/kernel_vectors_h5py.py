#!/usr/bin/python3
"""The checked-in kernel vectors read with h5py and numpy, as a GPU engineer
would (vectors/KERNEL_VECTORS.md): an f16 activation, the u8 bytes of a Q4_K
matrix, the error attributes (recomputed with numpy from the stored output
and oracle), a hard-linked input, and the string attributes.
Usage: kernel_vectors_h5py.py vectors/data/kernels.h5"""
import sys

import h5py
import numpy as np


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"OK   {what}")


def main(path):
    with h5py.File(path, "r") as f:
        check(f.attrs["schema"].decode() == "rwkv-oracle-kernel-vectors/1", "schema attribute")
        check(int(f.attrs["variants"]) == len(f.keys()), "one group per variant")

        case = f["layer_norm/0"]
        x = case["inputs/x"]
        check(x.dtype == np.float16 and x.ndim == 3 and x.shape[0] == 1, f"layer_norm x is f16 [1, T, C] {x.shape}")
        y = case["outputs/y"][...].astype(np.float64)
        want = case["oracle/y"][...]
        check(want.dtype == np.float64 and want.shape == y.shape, "oracle is f64 of the output's shape")
        err = np.abs(y - want)
        check(float(case["outputs/y"].attrs["max_abs_err_f64"]) == err.max(), "max_abs_err_f64 = max |ref - f64|")
        nz = want != 0
        check(float(case["outputs/y"].attrs["max_rel_err_f64"]) == (err[nz] / np.abs(want[nz])).max(),
              "max_rel_err_f64 = max |ref - f64| / |f64| over f64 != 0")

        q = f["matmul_vec.q4_k.none/0"]
        data = q["inputs/w_data"]
        K, M = int(q.attrs["K"]), int(q.attrs["M"])
        check(data.dtype == np.uint8 and data.shape == (M * K // 256 * 144,), f"Q4_K bytes are u8 [{M}*{K}/256*144]")
        decoded = q["inputs/w_decoded"][...]
        check(decoded.dtype == np.float32 and decoded.shape == (M, K), "decoded weights are f32 [M, K]")
        # Block 0 of row 0: d (f16) at bytes 0..1, dmin at 2..3; the decoded row starts with d*sc - dmin*m.
        d = np.frombuffer(data[0:2].tobytes(), dtype="<f2")[0]
        check(np.isfinite(d), "the first block's d reads as a float16")
        x = q["inputs/x"][...]
        y = q["outputs/y"][...]
        approx = np.einsum("mk,tk->tm", decoded.astype(np.float64), x[0].astype(np.float64))
        check(np.allclose(y[0], approx, rtol=1e-2, atol=1e-2), "y is close to decoded W x (numpy)")

        same = f["matmul_vec.q4_k.tanh/0/inputs/x"][...]
        check(np.array_equal(same, x), "a hard-linked input reads as an ordinary dataset")

        label = f["time_mix_v7/1"].attrs["label"].decode()
        check("N 64," in label, f"case label: {label}")
        check(f["time_mix_v7"].attrs["order"].decode().startswith("tokens in order"), "order attribute")


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/python3
"""Plots for a check report (backends/harness/report.h): reads DIR/results.json,
writes DIR/error_by_layer.png, DIR/ulp_hist.png, DIR/error_growth.png and
DIR/report.html (the Markdown page's content with the plots inline).

    /usr/bin/python3 reports/plot_check.py DIR
"""
import html
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ULP_LABELS = ["0", "1", "2", "3-4", "5-8", "9-16", "17-256", ">256"]


def short(rec):
    op = rec["op"]
    if rec["layer"] >= 0 and op.startswith("blocks."):
        return op.split(".", 2)[2]
    return op.split(".")[0] if op.startswith("state.") else op


def main(d):
    with open(os.path.join(d, "results.json")) as f:
        res = json.load(f)
    recs = [r for r in res["records"] if r["layer"] >= 0 and not r["op"].startswith("state.")]
    ops = []
    for r in recs:
        if short(r) not in ops:
            ops.append(short(r))
    layers = sorted({r["layer"] for r in recs})
    grid = np.full((len(ops), max(layers) + 1 if layers else 1), np.nan)
    for r in recs:
        i, l = ops.index(short(r)), r["layer"]
        v = min(r["worst_ratio"], 1e6)
        grid[i, l] = v if np.isnan(grid[i, l]) else max(grid[i, l], v)

    fig, ax = plt.subplots(figsize=(max(6, 0.5 * grid.shape[1] + 3), max(6, 0.22 * len(ops) + 1.5)))
    shown = np.log10(np.maximum(grid, 1e-6))
    im = ax.imshow(shown, aspect="auto", cmap="RdYlGn_r", vmin=-3, vmax=3, interpolation="nearest")
    ax.set_yticks(range(len(ops)))
    ax.set_yticklabels(ops, fontsize=7)
    ax.set_xticks(range(grid.shape[1]))
    ax.set_xlabel("layer")
    fd = res.get("first_divergence")
    if fd and fd.get("layer", -1) >= 0 and short(fd) in ops:
        ax.add_patch(plt.Rectangle((fd["layer"] - 0.5, ops.index(short(fd)) - 0.5), 1, 1, fill=False, lw=2,
                                   ec="black"))
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log10 worst |cand - ref| / tolerance (0 = at the tolerance)")
    ax.set_title("error per layer and op (worst over steps); first divergence boxed", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "error_by_layer.png"), dpi=110)
    plt.close(fig)

    hist = np.zeros(len(ULP_LABELS))
    for r in res["records"]:
        hist += np.array(r["ulp_hist"], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(ULP_LABELS, np.maximum(hist, 0.5), color="#4477aa")
    ax.set_yscale("log")
    ax.set_xlabel("ULP distance (stored type)")
    ax.set_ylabel("elements")
    ax.set_title("ULP distance of every compared element", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "ulp_hist.png"), dpi=110)
    plt.close(fig)

    by_layer = {}
    for r in res["records"]:
        if r["layer"] >= 0:
            by_layer[r["layer"]] = max(by_layer.get(r["layer"], 0), r["max_abs"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs = sorted(by_layer)
    ax.semilogy(xs, [max(by_layer[x], 1e-12) for x in xs], marker="o")
    ax.set_xlabel("layer")
    ax.set_ylabel("max |cand - ref|")
    ax.set_title("error along depth", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "error_growth.png"), dpi=110)
    plt.close(fig)

    with open(os.path.join(d, "report.md")) as f:
        md = f.read()
    body = []
    in_code = False
    for line in md.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
        elif in_code:
            body.append(html.escape(line))
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1:line.rindex(")")]
            body.append(f'<p><img src="{src}" style="max-width:100%"></p>')
        elif line.startswith("|---"):
            continue
        elif line.startswith("|"):
            cells = [html.escape(c.strip()).replace("`", "") for c in line.strip("|").split("|")]
            tag = "th" if body and not body[-1].startswith("<tr") and "<table>" not in body[-1] else "td"
            if not body or not body[-1].startswith(("<tr", "<table")):
                body.append("<table>")
                tag = "th"
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        else:
            if body and body[-1].startswith("<tr"):
                body.append("</table>")
            if line.strip():
                body.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    if body and body[-1].startswith("<tr"):
        body.append("</table>")
    body.append('<p><img src="error_growth.png" style="max-width:100%"></p>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>{}</title><style>"
            "body{{font-family:sans-serif;max-width:1100px;margin:2em auto}} table{{border-collapse:collapse;"
            "font-size:12px}} td,th{{border:1px solid #ccc;padding:2px 6px}} pre{{background:#f4f4f4;"
            "padding:8px;white-space:pre-wrap}}</style></head><body>{}</body></html>\n").format(
                html.escape(res["title"]), "\n".join(body))
    with open(os.path.join(d, "report.html"), "w") as f:
        f.write(page)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

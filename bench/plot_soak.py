#!/usr/bin/env python3
"""Draws bench/soak.sh's samples as an SVG of four small charts (RSS, file
descriptors, RocksDB size, log size against time). Standard library only.

    bench/plot_soak.py SAMPLES.csv OUT.svg
"""
import csv
import sys

SERIES = [
    ("rss_mib", "server RSS (MiB)", "#1f77b4"),
    ("fds", "open file descriptors", "#ff7f0e"),
    ("rocksdb_mib", "RocksDB on disk (MiB)", "#2ca02c"),
    ("log_mib", "log on disk (MiB; grows by design until retention)", "#9467bd"),
]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 520, 200, 60, 20, 30, 35


def chart(rows, key, title, color, x0, y0):
    xs = [float(r["seconds"]) for r in rows]
    ys = [float(r[key]) for r in rows]
    xmax = max(xs) or 1.0
    ymax = max(ys) * 1.1 or 1.0
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(x):
        return x0 + PAD_L + x / xmax * pw

    def py(y):
        return y0 + PAD_T + ph - y / ymax * ph

    out = [f'<text x="{x0 + PAD_L}" y="{y0 + 18}" font-size="13" font-weight="bold">{title}</text>']
    out.append(f'<rect x="{x0 + PAD_L}" y="{y0 + PAD_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for i in range(5):
        yv = ymax * i / 4
        out.append(f'<text x="{x0 + PAD_L - 6}" y="{py(yv) + 4:.1f}" font-size="10" text-anchor="end">{yv:.0f}</text>')
        out.append(f'<line x1="{x0 + PAD_L}" x2="{x0 + PAD_L + pw}" y1="{py(yv):.1f}" y2="{py(yv):.1f}" stroke="#eee"/>')
    for i in range(7):
        xv = xmax * i / 6
        out.append(f'<text x="{px(xv):.1f}" y="{y0 + PAD_T + ph + 14}" font-size="10" text-anchor="middle">{xv / 60:.0f}</text>')
    out.append(f'<text x="{x0 + PAD_L + pw / 2}" y="{y0 + H - 4}" font-size="10" text-anchor="middle">minutes</text>')
    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
    out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    return out


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        sys.exit("plot_soak: no samples")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{2 * H}" '
             f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>']
    for i, (key, title, color) in enumerate(SERIES):
        parts += chart(rows, key, title, color, (i % 2) * W, (i // 2) * H)
    parts.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Draws the epoch-compute growth curve (CSV of rankd-epoch-bench --csv) as an SVG, log-log axes.

    python3 benchmarks/growth-chart.py RESULTS.csv docs/epoch-growth.svg
"""

import csv
import math
import sys

source, target = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(source)))
rankd = [(int(r["endpoints"]), float(r["rankd_ms"])) for r in rows]
naive = [(int(r["endpoints"]), float(r["naive_ms"])) for r in rows if r["naive_ms"]]
one_thread = [(int(r["endpoints"]), float(r["rankd_one_thread_ms"])) for r in rows]

W, H, L, R, T, B = 800, 460, 80, 40, 40, 60
xs = [n for n, _ in rankd]
ys = [v for _, v in rankd + naive + one_thread]
x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys + [250])))


def px(n):
    return L + (math.log10(n) - x0) / (x1 - x0) * (W - L - R)


def py(v):
    return H - B - (math.log10(v) - y0) / (y1 - y0) * (H - T - B)


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">Epoch compute time vs endpoints (1 h of traffic at 10 req/s each; log-log)</text>']
for e in range(x0, x1 + 1):
    x = px(10 ** e)
    out.append(f'<line x1="{x}" y1="{T}" x2="{x}" y2="{H - B}" stroke="#ddd"/>')
    out.append(f'<text x="{x}" y="{H - B + 18}" text-anchor="middle">{10 ** e:,}</text>')
for e in range(y0, y1 + 1):
    y = py(10 ** e)
    out.append(f'<line x1="{L}" y1="{y}" x2="{W - R}" y2="{y}" stroke="#ddd"/>')
    out.append(f'<text x="{L - 8}" y="{y + 4}" text-anchor="end">{10 ** e:g} ms</text>')
out.append(f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">endpoints</text>')
goal = py(250)
out.append(f'<line x1="{L}" y1="{goal}" x2="{W - R}" y2="{goal}" stroke="#c00" stroke-dasharray="6 4"/>')
out.append(f'<text x="{W - R - 4}" y="{goal - 6}" text-anchor="end" fill="#c00">goal: 250 ms</text>')
# A line of slope 1 through rankd's first point: linear growth.
n_first, v_first = rankd[0]
out.append(f'<line x1="{px(n_first)}" y1="{py(v_first)}" x2="{px(xs[-1])}" y2="{py(v_first * xs[-1] / n_first)}" '
           f'stroke="#999" stroke-dasharray="2 3"/>')
for series, colour, label in ((one_thread, "#7fa7e0", "rankd, one thread"), (rankd, "#1f5fbf", "rankd (window aggregates)"),
                              (naive, "#d07000", "naive SQL over raw rows")):
    if not series:
        continue
    points = " ".join(f"{px(n)},{py(v)}" for n, v in series)
    out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for n, v in series:
        out.append(f'<circle cx="{px(n)}" cy="{py(v)}" r="4" fill="{colour}"/>')
        if series is not one_thread or n >= 2000:
            out.append(f'<text x="{px(n) + 6}" y="{py(v) + (16 if series is one_thread else -8)}" fill="{colour}">{v:,.1f} ms</text>')
legend = [("#1f5fbf", "rankd (all cores from 2,000 endpoints)"), ("#7fa7e0", "rankd, one thread"),
          ("#d07000", "naive SQL over raw rows, then the same scorer"), ("#999", "linear growth from rankd's first point")]
for i, (colour, label) in enumerate(legend):
    y = H - B - 68 + i * 18
    x = W - R - 350
    out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" stroke="{colour}" stroke-width="2"/>')
    out.append(f'<text x="{x + 30}" y="{y}">{label}</text>')
out.append("</svg>")
open(target, "w").write("\n".join(out) + "\n")

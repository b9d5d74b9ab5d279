#!/usr/bin/env python3
"""Draws the panels of dashboards/orpc-rs.json as one SVG, from a Prometheus' query API: the
same queries Grafana would run, over the last MINUTES minutes. For a picture of the dashboard
without Grafana (dashboards/picture runs it after a load).

    dashboards/draw.py http://127.0.0.1:9090 out.svg [MINUTES]
"""
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
W, H, PAD = 460, 230, 40


def query_range(base, expr, start, end, step):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=10) as response:
        return json.load(response)["data"]["result"]


def legend(fmt, labels):
    out = fmt
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value)
    return out


def chart(panel, series, x0, y0, start, end):
    parts = [f'<g transform="translate({x0},{y0})">',
             f'<rect width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>',
             f'<text x="10" y="18" font-size="13" font-weight="bold">{panel["title"]}</text>']
    points = [(t, v) for _, values in series for t, v in values]
    top = max([v for _, v in points] + [1e-9]) * 1.1
    plot_w, plot_h = W - PAD - 10, H - PAD - 40
    sx = lambda t: PAD + (t - start) / max(end - start, 1) * plot_w
    sy = lambda v: 28 + plot_h - v / top * plot_h
    parts.append(f'<text x="4" y="34" font-size="10" fill="#666">{top:.3g} {panel["unit"]}</text>')
    parts.append(f'<line x1="{PAD}" y1="{28 + plot_h}" x2="{PAD + plot_w}" y2="{28 + plot_h}" stroke="#999"/>')
    for i, (name, values) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in values)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{PAD + (i % 3) * 140}" y="{H - 22 + (i // 3) * 12}" font-size="10" fill="{colour}">{name}</text>')
    parts.append("</g>")
    return parts


def main():
    base, out = sys.argv[1], Path(sys.argv[2])
    minutes = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    dashboard = json.loads((Path(__file__).parent / "orpc-rs.json").read_text())
    end = time.time()
    start = end - minutes * 60
    step = max(1, int(minutes * 60 / 120))
    svg = []
    for n, panel in enumerate(dashboard["panels"]):
        series = []
        for target in panel["targets"]:
            for result in query_range(base, target["expr"], start, end, step):
                values = [(float(t), float(v)) for t, v in result["values"] if v not in ("NaN", "+Inf", "-Inf")]
                # Series that stayed at 0 (every registered procedure has them) only crowd the legend.
                if any(v != 0 for _, v in values):
                    series.append((legend(target["legendFormat"], result["metric"]), values))
        unit = {"ops": "/s", "s": "s", "short": ""}.get(panel["fieldConfig"]["defaults"]["unit"], "")
        svg += chart({"title": panel["title"], "unit": unit}, series, (n % 2) * (W + 10), (n // 2) * (H + 10), start, end)
    width, height = 2 * W + 10, 3 * (H + 10)
    out.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif">\n' + "\n".join(svg) + "\n</svg>\n"
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/run's report: turns the orpc-load JSON summaries of one run into the
"## Throughput, many streams, latency, memory" section of BENCHMARKS.md and two SVG bar charts,
and into the "## HTTP/2: many streams on one connection" section.

    python3 bench/report.py WORK_DIR

WORK_DIR holds meta.json (machine, parameters, commands, the scenarios that ran) and one file of
JSON lines per scenario and server: single-NAME.jsonl, many-NAME.jsonl, latency-NAME.jsonl,
memory-NAME.jsonl, and h2-KIND.jsonl for the HTTP/2 scenario (KIND: h1, h1tls, h2). Only the
sections of the scenarios that ran are rewritten. A run that left no line (it timed out, say)
shows as "no result"; nothing is made up. Only the standard library is used, and the SVG is
written by hand.
"""

import json
import statistics
import sys
from pathlib import Path
from xml.sax.saxutils import escape

SECTION = "## Throughput, many streams, latency, memory"
H2_SECTION = "## HTTP/2: many streams on one connection"
H2_KINDS = ["h1", "h1tls", "h2"]
H2_NAMES = {
    "h1": "HTTP/1.1, plain: one connection per stream (reference)",
    "h1tls": "HTTP/1.1 over TLS: one connection per stream",
    "h2": "**HTTP/2 over TLS: every stream on one connection**",
}
SERVERS = ["ours", "lab_sse", "raw_bytes", "node"]
NAMES = {
    "ours": "**ours** (`examples/conformance.rs`)",
    "lab_sse": "`lab_sse` (actix-web-lab `Sse`)",
    "raw_bytes": "`raw_bytes` (pre-formatted, the ceiling)",
    "node": "`node` (oRPC 1.15.3)",
}
COLOURS = {"ours": "#d9480f", "lab_sse": "#1c7ed6", "raw_bytes": "#868e96", "node": "#37b24d"}


def runs(work, scenario, server):
    """Every JSON summary recorded for one scenario and server."""
    path = work / f"{scenario}-{server}.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def runs_word(k):
    return f"{k} run" if k == 1 else f"{k} runs"


def num(x, digits=0):
    """A number with thousands separators."""
    return f"{x:,.{digits}f}"


def rate(x):
    """Events per second, short: 5.41 M, 21.7 k."""
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def other_work(results, nproc):
    """Median share of the machine's CPUs that other work took during the runs, in percent."""
    shares = [
        100 * r["other_cpu_s"] / (r["elapsed_s"] * nproc)
        for r in results
        if r.get("other_cpu_s") is not None and r["elapsed_s"] > 0
    ]
    return f"{statistics.median(shares):.0f}%" if shares else "n/a"


def client_share(results):
    """Median CPU use of the one-threaded client, in percent of one core: near 100% means the
    client, not the server, set the pace."""
    shares = [
        100 * r["client_cpu_s"] / r["elapsed_s"]
        for r in results
        if r.get("client_cpu_s") is not None and r["elapsed_s"] > 0
    ]
    return f"{statistics.median(shares):.0f}%" if shares else "n/a"


def client_bound_note(table):
    """A sentence for each server whose runs kept the one-threaded client near a full core."""
    bound = [
        f"{s} ({t['client']})"
        for s, t in table.items()
        if t and t["client"] != "n/a" and float(t["client"].rstrip("%")) >= 90
    ]
    if not bound:
        return []
    return [
        "",
        "The client used 90% or more of a core for " + ", ".join(bound) + ": there the load "
        "generator, not the server, set the pace, and the figure is a lower bound.",
    ]


def throughput(results, nproc):
    """Median and range of events/s, server CPU per run, events per server CPU-second, failures."""
    if not results:
        return None
    eps = [r["events_per_s"] for r in results]
    cpu = [r["server_cpu_s"] for r in results if r.get("server_cpu_s") is not None]
    events = sum(r["events"] for r in results)
    return {
        "runs": len(results),
        "median": statistics.median(eps),
        "min": min(eps),
        "max": max(eps),
        "cpu_per_run": statistics.median(cpu) if cpu else None,
        "per_cpu_s": events / sum(cpu) if cpu and sum(cpu) > 0 else None,
        "events_per_run": results[0]["events"],
        "failed": sum(r["streams_failed"] for r in results),
        "failures": sorted({k for r in results for k in r.get("failures", {})}),
        "other": other_work(results, nproc),
        "client": client_share(results),
    }


def ratio_line(label, a, b, target):
    if a is None or b is None or b == 0:
        return f"| {label} | no result | {target or '—'} | |"
    value = a / b
    if target is None:
        verdict = "—"
    else:
        verdict = "met" if value >= target else f"**missed** (measured {value:.2f}×)"
    shown = f"≥ {target:g}×" if target is not None else "—"
    return f"| {label} | {value:.2f}× | {shown} | {verdict} |"


def bars_svg(title, panels, unit_label, fmt):
    """Horizontal bars, one group per panel: panels = [(subtitle, {server: value or None})]."""
    width, left, right, bar_h, gap = 760, 250, 150, 22, 6
    y = 46
    rows = []
    for subtitle, values in panels:
        rows.append(("title", subtitle, y))
        y += 22
        top = max([v for v in values.values() if v] or [1])
        for server in SERVERS:
            rows.append(("bar", (server, values.get(server), top), y))
            y += bar_h + gap
        y += 14
    height = y + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    span = width - left - right
    for kind, payload, ry in rows:
        if kind == "title":
            parts.append(f'<text x="16" y="{ry + 4}" font-weight="bold">{escape(payload)}</text>')
            continue
        server, value, top = payload
        label = {"ours": "ours", "lab_sse": "lab_sse", "raw_bytes": "raw_bytes",
                 "node": "node (oRPC 1.15.3)"}[server]
        parts.append(f'<text x="{left - 8}" y="{ry + bar_h - 6}" text-anchor="end">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{ry + bar_h - 6}" fill="#868e96">no result</text>')
            continue
        w = max(1.0, span * value / top)
        parts.append(f'<rect x="{left}" y="{ry}" width="{w:.1f}" height="{bar_h}" fill="{COLOURS[server]}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{ry + bar_h - 6}">{escape(fmt(value))}</text>')
    parts.append(f'<text x="16" y="{height - 10}" fill="#495057" font-size="11">'
                 f'{escape(unit_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_section(root, title, section):
    """Replaces the section headed `title` in BENCHMARKS.md (up to the next `## `), or appends it."""
    bench = root / "BENCHMARKS.md"
    text = bench.read_text()
    lines = text.split("\n")
    start = next((k for k, l in enumerate(lines) if l.strip() == title), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
        tail = "\n".join(lines[end:])
        text = "\n".join(lines[:start]) + "\n" + section + ("\n" + tail if tail else "")
    bench.write_text(text.rstrip("\n") + "\n")


def per_round_ratios(a, b):
    """a[k] / b[k] for the runs of the same round (the files hold one line per round, in order),
    when both kinds have a result for every round."""
    if not a or len(a) != len(b):
        return []
    return [x["events_per_s"] / y["events_per_s"] for x, y in zip(a, b) if y["events_per_s"] > 0]


def h2_section(work, meta):
    p = meta["params"]
    nproc = meta["nproc"]
    results = {k: runs(work, "h2", k) for k in H2_KINDS}
    table = {k: throughput(results[k], nproc) for k in H2_KINDS}
    busy = ", ".join(f"{b}%" for b in meta.get("busy", [])) or "n/a"
    c, n = p["h2_c"], p["h2_n"]
    load = "target/release/orpc-load --json --quiet"
    url = f"/api/count?n={n}&delay_ms=0' --server-pid PID"
    out = [
        H2_SECTION,
        "",
        f"    SCENARIOS=h2 RUNS={p['runs']} H2_C={c} H2_N={n} QUIET_WAIT={p.get('quiet_wait', 120)} "
        "bench/run",
        "",
        "which, after one unrecorded warm-up of each kind, runs in every round, taking turns at "
        "going first:",
        "",
        f"    {load} -c {c} -s {c} --timeout 300 --url 'http://127.0.0.1:PORT{url}",
        f"    {load} --tls-ca CERT.pem -c {c} -s {c} --timeout 300 --url 'https://127.0.0.1:PORT{url}",
        f"    {load} --tls-ca CERT.pem --http2 -c {c} -s {c} --timeout 300 "
        f"--url 'https://127.0.0.1:PORT{url}",
        "",
        f"Issue 17: {num(c)} concurrent streams of {num(n)} events each multiplexed on one HTTP/2 "
        f"connection should deliver at least 0.8× the events/s of {num(c)} HTTP/1.1 connections "
        "in the same run. The server is ours, `examples/conformance.rs`, once plain "
        "(`--addr 127.0.0.1:0`) and once with a self-signed pair made for the run by "
        "`orpc-load --self-signed DIR` (`--tls-cert DIR/cert.pem --tls-key DIR/key.pem`: HTTPS "
        "through `orpc_runtime::http::serve_tls`, rustls with `ring`, HTTP/1.1 or HTTP/2 by ALPN). "
        "The HTTP/1.1-over-TLS row pays the same TLS as HTTP/2 but no multiplexing, so it "
        "separates the two costs, and it is the row the target is read against: browsers speak "
        "HTTP/2 only over TLS, so a page that wants more than six streams chooses between HTTP/2 "
        "and HTTP/1.1 on the same HTTPS origin. Plain HTTP/1.1 is the reference for what TLS "
        "itself costs. Every row counts the same way (`orpc-load`'s SSE frame "
        f"counter, {num(c * n)} events per run, connects and handshakes included); the client "
        "offers one ALPN protocol and refuses a connection that agreed to another. The HTTP/2 "
        "client is the `h2` 0.4 crate with hyper's client windows (2 MiB per stream, 5 MiB per "
        "connection), given back as soon as data is read.",
        "",
        f"{runs_word(p['runs'])}, {meta['date']}, on {nproc} cores ({meta['cpu']}), Linux "
        f"{meta['kernel']}, {meta['rustc']}; one-threaded client on the same machine. Before "
        f"each round the script waited (at most {p.get('quiet_wait', 120)} s) for the CPUs to be "
        f"under 15% busy; they were {busy}. Load average before: {meta['load_before']}; after: "
        f"{meta['load_after']}.",
        "",
        "| transport | events/s (median) | range | server CPU / run | events per server CPU-s | client CPU | other work | failed streams |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in H2_KINDS:
        t = table[k]
        if t is None:
            out.append(f"| {H2_NAMES[k]} | no result | | | | | | |")
            continue
        cpu = f"{t['cpu_per_run']:.2f} s" if t["cpu_per_run"] is not None else "n/a"
        per_cpu = num(t["per_cpu_s"]) if t["per_cpu_s"] else "n/a"
        failed = f"{t['failed']}" + (f" ({', '.join(t['failures'])})" if t["failures"] else "")
        out.append(
            f"| {H2_NAMES[k]} | {num(t['median'])} | {rate(t['min'])} – {rate(t['max'])} | "
            f"{cpu} | {per_cpu} | {t['client']} | {t['other']} | {failed} |"
        )
    out += client_bound_note({H2_NAMES[k]: table[k] for k in H2_KINDS})
    get = lambda k, key: table[k][key] if table[k] else None  # noqa: E731
    out += [
        "",
        "| ratio (medians) | measured | target | |",
        "|---|---:|---:|---|",
        ratio_line("h2 / HTTP/1.1 over TLS, events/s", get("h2", "median"), get("h1tls", "median"), 0.8),
        ratio_line("h2 / plain HTTP/1.1, events/s (TLS's cost included)", get("h2", "median"),
                   get("h1", "median"), None),
        ratio_line("HTTP/1.1 over TLS / plain, events/s (the cost of TLS)", get("h1tls", "median"),
                   get("h1", "median"), None),
        ratio_line("h2 / HTTP/1.1 over TLS, events per server CPU-s", get("h2", "per_cpu_s"),
                   get("h1tls", "per_cpu_s"), None),
        "",
    ]
    pairs = per_round_ratios(results["h2"], results["h1tls"])
    if pairs:
        out += [
            "h2 / HTTP/1.1 over TLS round by round: "
            + ", ".join(f"{r:.2f}×" for r in pairs)
            + f" (median {statistics.median(pairs):.2f}×).",
            "",
        ]
    return "\n".join(out)


def main():
    work = Path(sys.argv[1])
    root = Path(__file__).resolve().parent.parent
    meta = json.loads((work / "meta.json").read_text())
    scenarios = meta.get("scenarios", ["throughput"])
    if "h2" in scenarios:
        write_section(root, H2_SECTION, h2_section(work, meta))
    if "throughput" in scenarios:
        throughput_section(work, root, meta)


def throughput_section(work, root, meta):
    p = meta["params"]
    busy = ", ".join(f"{b}%" for b in meta.get("busy", [])) or "n/a"

    nproc = meta["nproc"]
    single = {s: throughput(runs(work, "single", s), nproc) for s in SERVERS}
    many = {s: throughput(runs(work, "many", s), nproc) for s in SERVERS}
    latency = {s: runs(work, "latency", s) for s in SERVERS}
    memory = {s: (runs(work, "memory", s) or [None])[-1] for s in SERVERS}

    out = [SECTION, ""]
    out += [
        "    bench/run",
        "",
        "[`bench/run`](bench/run) builds everything in release, starts each server on a free "
        "loopback port, drives it with [`orpc-load`](orpc-load/src/main.rs) and stops it, then "
        "rewrites this section and the plots. Every server is driven the same way: "
        "`GET /api/count?n=N&delay_ms=0` streams N events `{\"i\":i}` with an id (and, except "
        "`lab_sse`, `retry: 1000` on each), then `event: done`; `GET /api/forever` holds an idle "
        "stream.",
        "",
        f"One run, {meta['date']}, on {meta['nproc']} cores ({meta['cpu']}), Linux "
        f"{meta['kernel']}, {meta['rustc']}, Node {meta['node']}. The load generator runs on "
        "the same machine with one thread, so client and server share the cores; "
        "*events per server CPU-second* (the server's user + system time from `/proc`) does "
        "not depend on that sharing. The machine is shared with other work, so the scenarios "
        "run in interleaved rounds (every server in each round, medians over the rounds), "
        "before each round the script waits (at most two minutes) for the CPUs to be under 15% "
        f"busy (they were {busy} busy), and each table gives the median share of the CPUs that "
        "other work took during the runs (*other work*: the machine's busy time less the "
        "server's and the client's). Load average before the run: "
        f"{meta['load_before']}; after: {meta['load_after']}.",
        "",
        "| server | what it is | started with |",
        "|---|---|---|",
        "| ours | `examples/conformance.rs`, the `count` and `forever` procedures through "
        "`orpc_runtime::http::serve` (actix-web, one worker per core) | "
        "`target/release/examples/conformance --addr 127.0.0.1:0` |",
        "| lab_sse | [`bench/anchors`](bench/anchors/src/bin/lab_sse.rs): actix-web-lab 0.29 "
        "`Sse` over a plain `futures` stream of the same events; `retry` is sent once, first, as "
        "its `Data` has no per-event retry | `bench/anchors/target/release/lab_sse --addr 127.0.0.1:0` |",
        "| raw_bytes | [`bench/anchors`](bench/anchors/src/bin/raw_bytes.rs): the same bytes as "
        "ours, formatted straight into 32 KiB body chunks: actix-web and the socket, nothing else | "
        "`bench/anchors/target/release/raw_bytes --addr 127.0.0.1:0` |",
        "| node | [`bench/node`](bench/node/server.mjs): `@orpc/server` + `@orpc/openapi` 1.15.3, "
        "`OpenAPIHandler` on `node:http`, `withEventMeta` for id and retry, `return \"done!\"` | "
        "`node bench/node/server.mjs --port 0` |",
        "",
        "The three actix-web servers are built alike: with actix-web's `http2` feature, which ours "
        "has through `orpc-runtime`'s `tls` (the example serves HTTPS with `--tls-cert`), and "
        "with tokio's `rt-multi-thread`, which the example's package turns on. Both cost memory "
        "(see the memory table).",
        "",
        "![events per second, single stream and many streams](bench/throughput.svg)",
        "",
    ]

    load = "target/release/orpc-load --json --quiet"
    out += [
        "### Single stream",
        "",
        f"    {load} --url 'http://127.0.0.1:PORT/api/count?n={p['single_n']}&delay_ms=0' "
        "--server-pid PID",
        "",
        f"One connection reads one stream to its end: n = {num(p['single_n'])} events "
        f"(Node: n = {num(p['node_single_n'])}, as it is slower by orders of magnitude; events/s "
        f"is a rate either way). {runs_word(p['runs'])} per server ({p['node_runs']} for Node) after "
        "one warm-up run; the median is shown.",
        "",
        "| server | events / stream | events/s (median) | range | server CPU / run | events per server CPU-s | client CPU | other work | failed streams |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in SERVERS:
        t = single[s]
        if t is None:
            out.append(f"| {NAMES[s]} | | no result | | | | | | |")
            continue
        cpu = f"{t['cpu_per_run']:.2f} s" if t["cpu_per_run"] is not None else "n/a"
        per_cpu = num(t["per_cpu_s"]) if t["per_cpu_s"] else "n/a"
        out.append(
            f"| {NAMES[s]} | {num(t['events_per_run'])} | {num(t['median'])} | "
            f"{rate(t['min'])} – {rate(t['max'])} | {cpu} | {per_cpu} | {t['client']} | {t['other']} | "
            f"{t['failed']} |"
        )
    get = lambda d, s, k: d[s][k] if d[s] else None  # noqa: E731
    out += client_bound_note(single)
    out += [
        "",
        "| ratio (events/s, medians) | measured | target | |",
        "|---|---:|---:|---|",
        ratio_line("ours / lab_sse", get(single, "ours", "median"), get(single, "lab_sse", "median"), 1.2),
        ratio_line("ours / node", get(single, "ours", "median"), get(single, "node", "median"), 100),
        ratio_line("ours / raw_bytes (share of the ceiling)", get(single, "ours", "median"),
                   get(single, "raw_bytes", "median"), None),
        ratio_line("ours / lab_sse, per server CPU-second", get(single, "ours", "per_cpu_s"),
                   get(single, "lab_sse", "per_cpu_s"), None),
        "",
    ]

    out += [
        f"### Many streams: {num(p['many_c'])} concurrent × {num(p['many_n'])} events",
        "",
        f"    {load} -c {p['many_c']} -s {p['many_c']} "
        f"--url 'http://127.0.0.1:PORT/api/count?n={p['many_n']}&delay_ms=0' --server-pid PID",
        "",
        f"{num(p['many_c'])} connections open at once, each reading one stream of "
        f"{num(p['many_n'])} events: {num(p['many_c'] * p['many_n'])} events per run, connects "
        f"included. {runs_word(p['runs'])} per server ({p['node_many_runs']} for Node, at about "
        "20,000 events/s a run takes a minute); the median is shown.",
        "",
        "| server | events/s (median) | range | server CPU / run | events per server CPU-s | client CPU | other work | failed streams |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in SERVERS:
        t = many[s]
        if t is None:
            out.append(f"| {NAMES[s]} | no result | | | | | | |")
            continue
        cpu = f"{t['cpu_per_run']:.2f} s" if t["cpu_per_run"] is not None else "n/a"
        per_cpu = num(t["per_cpu_s"]) if t["per_cpu_s"] else "n/a"
        failed = f"{t['failed']}" + (f" ({', '.join(t['failures'])})" if t["failures"] else "")
        out.append(
            f"| {NAMES[s]} | {num(t['median'])} | {rate(t['min'])} – {rate(t['max'])} | "
            f"{cpu} | {per_cpu} | {t['client']} | {t['other']} | {failed} |"
        )
    out += client_bound_note(many)
    out += [
        "",
        "| ratio | measured | target | |",
        "|---|---:|---:|---|",
        ratio_line("ours / lab_sse, events/s", get(many, "ours", "median"), get(many, "lab_sse", "median"), 1.2),
        ratio_line("ours / node, events/s", get(many, "ours", "median"), get(many, "node", "median"), 100),
        ratio_line("ours / raw_bytes, events/s", get(many, "ours", "median"), get(many, "raw_bytes", "median"), None),
        ratio_line("ours / lab_sse, events per server CPU-s", get(many, "ours", "per_cpu_s"),
                   get(many, "lab_sse", "per_cpu_s"), None),
        "",
    ]

    out += [
        "### Latency",
        "",
        f"    {load} -c {p['lat_c']} -s {p['lat_streams']} "
        f"--url 'http://127.0.0.1:PORT/api/count?n={p['lat_n']}&delay_ms=0' --server-pid PID",
        "",
        f"{num(p['lat_streams'])} short streams ({p['lat_n']} events each) per round, "
        f"{p['lat_c']} at a time, each on a new connection; the median over the rounds of each "
        "percentile is shown. *Time to headers* runs from the start of the connect to the end "
        "of the response head; *time to first event* to the read that completed the first "
        "`message` event. Target for ours: a median under 1 ms.",
        "",
        "| server | rounds | headers p50 | headers p99 | first event p50 | first event p99 | other work | failed streams |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ours_p50 = lab_p50 = None
    for s in SERVERS:
        rs = [r for r in latency[s] if r.get("time_to_headers_ms") and r.get("time_to_first_event_ms")]
        if not rs:
            out.append(f"| {NAMES[s]} | no result | | | | | | |")
            continue
        pick = lambda key, q: statistics.median(r[key][q] for r in rs)  # noqa: E731
        h50, h99 = pick("time_to_headers_ms", "p50"), pick("time_to_headers_ms", "p99")
        f50, f99 = pick("time_to_first_event_ms", "p50"), pick("time_to_first_event_ms", "p99")
        if s == "ours":
            ours_p50 = f50
        elif s == "lab_sse":
            lab_p50 = f50
        failed = sum(r["streams_failed"] for r in latency[s])
        out.append(
            f"| {NAMES[s]} | {len(rs)} | {h50:.3f} ms | {h99:.3f} ms | {f50:.3f} ms | "
            f"{f99:.3f} ms | {other_work(rs, nproc)} | {failed} |"
        )
    if ours_p50 is not None:
        p50 = ours_p50
        verdict = "met" if p50 < 1.0 else f"**missed** (measured {p50:.3f} ms)"
        out += ["", f"Target, ours' median time to first event under 1 ms: {verdict}."]
    if ours_p50 is not None and lab_p50:
        ratio = ours_p50 / lab_p50
        verdict = "met" if ratio <= 1.05 else "**missed**"
        out += [
            "",
            f"Target, ours' median time to first event within 5% of lab_sse's: {verdict} "
            f"(ours / lab_sse {ratio:.3f}).",
        ]
    out.append("")

    out += [
        "### Memory per idle stream",
        "",
        f"    {load} -c {p['idle']} --hold {p['hold_secs']} "
        "--url 'http://127.0.0.1:PORT/api/forever?interval_ms=3600000' --server-pid PID",
        "",
        f"A fresh server process (after the runs above its allocator would reuse their memory), "
        f"one warm-up request, then {num(p['idle'])} streams opened and held idle; the server's "
        f"resident memory is read from `/proc/PID/status` before they open and {p['hold_secs']} s "
        "after the last one answered. The anchors serve `forever` too (an interval stream). "
        "Node's figure includes whatever its garbage collector had not yet collected. "
        "actix-web's `http2` feature, on in all three actix-web servers, accounts for about "
        "1.6 KiB of each actix-web figure: with it, the future that serves a connection keeps "
        "room for an HTTP/2 handshake, even on a plain HTTP/1.1 connection (`raw_bytes` "
        "measured 10.22 KiB per stream without the feature and 11.84 KiB with it, 2026-12-02). "
        "tokio's `rt-multi-thread` widens the runtime handle in every timer, the `interval` that "
        "`forever` keeps included (112 bytes instead of 96; `raw_bytes` measured 11.84 KiB per "
        "stream without the feature and 11.89 KiB with it, 2026-12-02).",
        "",
        "| server | streams open | RSS before | RSS with all open | per stream |",
        "|---|---:|---:|---:|---:|",
    ]
    per_stream = {}
    for s in SERVERS:
        r = memory[s]
        if r is None or not r.get("held"):
            out.append(f"| {NAMES[s]} | no result | | | |")
            continue
        held = r["held"]
        per_stream[s] = held["rss_per_stream_bytes"] / 1024
        out.append(
            f"| {NAMES[s]} | {num(held['streams_open'])} | "
            f"{r['server_rss_before_kib'] / 1024:.1f} MiB | {held['server_rss_open_kib'] / 1024:.1f} MiB | "
            f"{per_stream[s]:.2f} KiB |"
        )
    if "ours" in per_stream and "raw_bytes" in per_stream:
        extra = per_stream["ours"] - per_stream["raw_bytes"]
        verdict = "met" if extra <= 1.0 else "**missed**"
        out += [
            "",
            f"Target, ours within 1.0 KiB per stream of `raw_bytes` in the same run: {verdict} "
            f"(ours {extra:+.2f} KiB).",
        ]
    out += ["", "![server memory per idle stream](bench/memory.svg)", ""]

    write_section(root, SECTION, "\n".join(out))

    (root / "bench" / "throughput.svg").write_text(bars_svg(
        "Events per second (orpc-load, loopback, median of runs)",
        [
            (f"single stream, count n = {num(p['single_n'])} (Node: {num(p['node_single_n'])})",
             {s: get(single, s, "median") for s in SERVERS}),
            (f"{num(p['many_c'])} concurrent streams × {num(p['many_n'])} events",
             {s: get(many, s, "median") for s in SERVERS}),
        ],
        f"{meta['date']}, {meta['nproc']} cores, {meta['cpu']}; linear scale",
        lambda v: f"{rate(v)} events/s",
    ))
    (root / "bench" / "memory.svg").write_text(bars_svg(
        "Server memory per idle SSE stream (RSS growth / streams)",
        [(f"{num(p['idle'])} idle streams", {s: per_stream.get(s) for s in SERVERS})],
        f"{meta['date']}, {meta['nproc']} cores, {meta['cpu']}; lower is better",
        lambda v: f"{v:.1f} KiB",
    ))


if __name__ == "__main__":
    main()

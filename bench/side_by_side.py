#!/usr/bin/env python3
"""Side-by-side end-to-end bench: Strait against the proxies operators run today.

Started by bench/run_peers.sh (which installs the peers and builds the tools). Each proxy runs
alone on CPU 0 (taskset), the load generator and the target on CPU 1. Every measurement is
repeated and the median kept. Results go into bench/README.md, section
"End-to-end: Strait vs peers". All traffic stays on 127.0.0.0/8.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_DIR = os.path.join(REPO, "bench", "peers")
TARGET = "127.0.0.1:19000"
TARGET_PORTS = 8       # the target listens on 19000..19007
SOURCE_IPS = 8         # clients bind 127.0.1.1..8
PROXY_CPU = "0"
GENERATOR_CPU = "1"
SECTION = "End-to-end: Strait vs peers"
BEGIN_MARK = "<!-- begin: end-to-end peers (bench/run_peers.sh writes this section) -->"
END_MARK = "<!-- end: end-to-end peers -->"


class Proxy:
    def __init__(self, name, kind, spec, routing, auth, parses, command, port, version=None,
                 strait=False, connect_rows=None):
        self.name = name
        self.kind = kind          # relay | http | socks5 | direct
        self.spec = spec          # --proxy of strait_load
        self.routing = routing    # default --routing
        self.auth = auth
        self.parses = parses
        self.command = command    # list, "{run}" replaced
        self.port = port
        self.version = version    # command printing the version
        self.strait = strait
        # Extra connect rows: (label, proxy spec, routing).
        self.connect_rows = connect_rows or [("", spec, routing)]


def peers():
    return [
        Proxy("haproxy", "relay", "relay://127.0.0.1:18101", "none", "none",
              "nothing (TCP relay, splice forced)",
              ["haproxy", "-db", "-f", "{run}/haproxy.cfg"], 18101, ["haproxy", "-v"]),
        Proxy("nginx", "relay", "relay://127.0.0.1:18102", "none", "none",
              "nothing (stream relay, copies)",
              ["nginx", "-c", "{run}/nginx.conf", "-p", "{run}"], 18102, ["nginx", "-v"]),
        Proxy("squid", "http", "http://127.0.0.1:18103", "plain", "Basic (ncsa helper, cached)",
              "HTTP CONNECT", ["squid", "-N", "-f", "{run}/squid.conf"], 18103,
              ["squid", "-v"]),
        Proxy("tinyproxy", "http", "http://127.0.0.1:18104", "plain", "Basic",
              "HTTP CONNECT", ["tinyproxy", "-d", "-c", "{run}/tinyproxy.conf"], 18104,
              ["tinyproxy", "-v"]),
        Proxy("dante", "socks5", "socks5://127.0.0.1:18105", "none", "none (see danted.conf)",
              "SOCKS5", ["danted", "-f", "{run}/danted.conf", "-p", "{run}/danted.pid"], 18105,
              ["danted", "-v"]),
        Proxy("microsocks", "socks5", "socks5://127.0.0.1:18106", "plain", "RFC 1929",
              "SOCKS5", ["microsocks", "-i", "127.0.0.1", "-p", "18106", "-u", "bench", "-P",
                         "bench"], 18106),
    ]


def strait_proxies(binary):
    rows = []
    for relay in ("splice", "uring_splice"):
        spec = "http://127.0.0.1:18000"
        rows.append(Proxy(
            f"strait-{relay}", "http", spec, "rotating", "Basic / RFC 1929 + routing string",
            "HTTP CONNECT + SOCKS5, routing strings",
            [binary, "--config", "{run}/strait-" + relay + ".toml", "--shards", "1"], 18000,
            strait=True,
            connect_rows=[
                ("http rotating", spec, "rotating"),
                ("http sticky-one", spec, "sticky-one"),
                ("http sticky-many", spec, "sticky-many"),
                ("http targeted", spec, "targeted"),
                ("socks5 rotating", "socks5://127.0.0.1:18000", "rotating"),
            ]))
    return rows


# ---------------------------------------------------------------- processes

def proc_table():
    """pid -> (ppid, starttime) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), fields[19])
        except (OSError, IndexError, ValueError):
            continue
    return table


def tree(root):
    """[(pid, starttime)] of root and its descendants."""
    table = proc_table()
    found = []
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid not in table:
            continue
        found.append((pid, table[pid][1]))
        pending.extend(child for child, (ppid, _) in table.items() if ppid == pid)
    return found


def stop(process, timeout_s=6):
    """SIGTERM to the process we started; then SIGKILL, by PID, whatever of its tree is left."""
    members = tree(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    deadline = time.time() + 3
    for pid, start in members:
        while time.time() < deadline and proc_table().get(pid, (0, None))[1] == start:
            time.sleep(0.05)
        if proc_table().get(pid, (0, None))[1] == start:  # same process, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def port_busy(port):
    """True when something already accepts on 127.0.0.1:port. A second daemon there (with
    SO_REUSEPORT) would take part of the connections and skew every figure."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, process, timeout_s=15):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def render_configs(run):
    for name in os.listdir(PEERS_DIR):
        path = os.path.join(PEERS_DIR, name)
        if name.endswith((".cfg", ".conf")):
            with open(path) as f:
                text = f.read().replace("@RUN@", run)
            with open(os.path.join(run, name), "w") as f:
                f.write(text)
    with open(os.path.join(PEERS_DIR, "strait.toml")) as f:
        strait = f.read()
    for relay in ("splice", "uring_splice"):
        with open(os.path.join(run, f"strait-{relay}.toml"), "w") as f:
            f.write(strait.replace("@RELAY@", relay))
    shutil.copy(os.path.join(PEERS_DIR, "strait-exits.csv"), run)
    # basic_ncsa_auth reads crypt(3) hashes; MD5-crypt of the bench password.
    digest = subprocess.run(["openssl", "passwd", "-1", "bench"], check=True,
                            capture_output=True, text=True).stdout.strip()
    with open(os.path.join(run, "squid.htpasswd"), "w") as f:
        f.write(f"bench:{digest}\n")
    for name in os.listdir(run):
        os.chmod(os.path.join(run, name), 0o644)


def version_of(proxy):
    if proxy.strait:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        return f"{proxy.name} at {commit or '?'}"
    if not proxy.version:
        if proxy.name == "microsocks":
            out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "microsocks"],
                                 capture_output=True, text=True).stdout
            return f"microsocks {out}"
        return ""
    out = subprocess.run(proxy.version, capture_output=True, text=True)
    text = (out.stdout + out.stderr).strip().splitlines()
    # First line, without the URLs and copyright notices some peers print after the version.
    return text[0].split(" - ")[0].split("  ")[0].rstrip(".") if text else ""


# ---------------------------------------------------------------- measurements

class Bench:
    def __init__(self, args, load_binary, run):
        self.args = args
        self.load = load_binary
        self.run = run
        self.results = {}  # (proxy, measure, variant) -> [report, ...]
        self.counter = 0

    def load_run(self, label, spec, routing, pid, mode_args):
        self.counter += 1
        path = os.path.join(self.run, f"report-{self.counter}.json")
        command = self.args.nice_prefix + ["taskset", "-c", GENERATOR_CPU, self.load, "run", "--proxy", spec,
                   "--target", TARGET, "--source-ips", str(SOURCE_IPS), "--json", path,
                   "--label", label]
        if routing:
            command += ["--routing", routing]
        if not spec.startswith("relay://"):
            command += ["--target-ports", str(TARGET_PORTS)]
        if pid:
            command += ["--proxy-pid", str(pid)]
        command += mode_args
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if done.returncode != 0 or not os.path.exists(path):
            print(f"  run failed: {' '.join(command)}\n{done.stderr}", file=sys.stderr)
            return None
        with open(path) as f:
            return json.load(f)

    def measure(self, proxy, pid):
        a = self.args
        rows = proxy.connect_rows if proxy.kind != "direct" else [("", "direct", "none")]
        for variant, spec, routing in rows:
            for _ in range(a.reps):
                report = self.load_run(f"{proxy.name} connect {variant}", spec, routing, pid,
                                       ["--mode", "connect", "--workers", str(a.workers),
                                        "--duration", str(a.connect_s)])
                self.keep(proxy, "connect", variant, report)
        spec = proxy.spec if proxy.kind != "direct" else "direct"
        for direction in ("up", "down", "both"):
            for _ in range(a.reps):
                report = self.load_run(f"{proxy.name} throughput {direction}", spec,
                                       proxy.routing, pid,
                                       ["--mode", "throughput", "--tunnels", str(a.tunnels),
                                        "--direction", direction,
                                        "--duration", str(a.throughput_s)])
                self.keep(proxy, "throughput", direction, report)
        report = self.load_run(f"{proxy.name} idle", spec, proxy.routing, pid,
                               ["--mode", "idle", "--idle-tunnels", str(a.idle),
                                "--hold", str(a.hold_s), "--duration", "30", "--workers", "64"])
        self.keep(proxy, "idle", "", report)

    def keep(self, proxy, measure, variant, report):
        if report is None:
            return
        self.results.setdefault((proxy.name, measure, variant), []).append(report)
        summary = ""
        if measure == "connect":
            summary = (f"{report['tunnels_per_s']:.0f}/s "
                       f"{report['proxy'].get('cpu_us_per_tunnel', 0):.0f}us/tunnel")
        elif measure == "throughput":
            summary = (f"{report['gbit_s']:.2f} Gbit/s "
                       f"{report['proxy'].get('cpu_s_per_gb', 0):.3f} s/GB")
        else:
            summary = (f"held {report['idle_held']} "
                       f"{report['proxy'].get('rss_bytes_per_tunnel', 0):.0f} B/tunnel")
        print(f"  {proxy.name:18} {measure:10} {variant:16} {summary} "
              f"errors={report['errors_total']} cpu={report['cpu_busy_pct']}", flush=True)


def median(reports, getter):
    values = []
    for r in reports:
        try:
            value = getter(r)
        except (KeyError, TypeError):
            continue
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- tables

def fmt(value, digits=0):
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(value, best):
    if value is None or not best:
        return "—"
    return f"{value / best:.2f}×"


def tables(bench, proxies, peer_names):
    r = bench.results
    lines = []
    order = [p for p in proxies]

    # ---- connect
    def connect_value(name, variant, getter):
        return median(r.get((name, "connect", variant), []), getter)

    peer_rate = {p.name: connect_value(p.name, "", lambda x: x["tunnels_per_s"])
                 for p in order if p.name in peer_names}
    peer_cpu = {p.name: connect_value(p.name, "", lambda x: x["proxy"]["cpu_us_per_tunnel"])
                for p in order if p.name in peer_names}
    best_rate = max((v for v in peer_rate.values() if v), default=None)
    best_cpu = min((v for v in peer_cpu.values() if v), default=None)
    best_rate_name = max(peer_rate, key=lambda k: peer_rate[k] or 0, default="")
    best_cpu_name = min(peer_cpu, key=lambda k: peer_cpu[k] or 1e18, default="")
    peer_p99 = {p.name: connect_value(p.name, "", lambda x: x["handshake_us"]["p99"])
                for p in order if p.name in peer_names and p.kind != "relay"}
    best_p99 = min((v for v in peer_p99.values() if v), default=None)
    best_p99_name = min(peer_p99, key=lambda k: peer_p99[k] or 1e18, default="")

    lines.append(f"### Connect: {bench.args.workers} workers, connect → handshake → PING/PONG → "
                 f"close ({bench.args.connect_s:g} s × {bench.args.reps}, median)")
    lines.append("")
    lines.append(f"Ratios: tunnels/s against the best peer ({best_rate_name}), CPU per tunnel "
                 f"against the cheapest peer ({best_cpu_name}), handshake p99 against the best "
                 f"peer that parses a handshake ({best_p99_name}).")
    lines.append("")
    lines.append("| proxy | parses | auth | routing | tunnels/s | × best | proxy CPU µs/tunnel | "
                 "× best | handshake p50 / p90 / p99 / p99.9 µs | × best p99 | total p50 / p99 µs "
                 "| errors | CPU0 / CPU1 busy |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in order:
        for variant, _, routing in (p.connect_rows if p.kind != "direct" else [("", "", "none")]):
            reports = r.get((p.name, "connect", variant), [])
            if not reports:
                continue
            rate = median(reports, lambda x: x["tunnels_per_s"])
            cpu = median(reports, lambda x: x["proxy"]["cpu_us_per_tunnel"])
            hs = [median(reports, lambda x, q=q: x["handshake_us"][q])
                  for q in ("p50", "p90", "p99", "p999")]
            total = [median(reports, lambda x, q=q: x["total_us"][q]) for q in ("p50", "p99")]
            errors = median(reports, lambda x: x["errors_total"])
            busy0 = median(reports, lambda x: x["cpu_busy_pct"]["cpu0"])
            busy1 = median(reports, lambda x: x["cpu_busy_pct"]["cpu1"])
            name = p.name + (f" ({variant})" if variant else "")
            lines.append(
                f"| {name} | {p.parses} | {p.auth} | {routing} | {fmt(rate)} | "
                f"{ratio(rate, best_rate)} | {fmt(cpu, 1)} | {ratio(cpu, best_cpu)} | "
                f"{' / '.join(fmt(v) for v in hs)} | "
                f"{ratio(hs[2], best_p99) if p.kind not in ('relay', 'direct') else 'n/a'} | "
                f"{' / '.join(fmt(v) for v in total)} | {fmt(errors)} | "
                f"{fmt(busy0)}% / {fmt(busy1)}% |")
    lines.append("")

    # ---- throughput
    lines.append(f"### Throughput: {bench.args.tunnels} tunnels, {bench.args.throughput_s:g} s × "
                 f"{bench.args.reps}, median")
    lines.append("")
    lines.append("Gbit/s counts payload both ways; CPU-s/GB is the proxy's CPU seconds (all its "
                 "threads and processes) per 10⁹ payload bytes. Ratios against the best peer for "
                 "the same direction. The byte check compares what the client sent and received "
                 "with what the target counted after the client's half-close (`shutdown(SHUT_WR)`"
                 ") ended the stream: a proxy that closes both directions at the client's FIN "
                 "drops the bytes still in flight and never relays the target's `SUNK` "
                 "acknowledgement (`missing_sink_ack`). `direct` runs the whole kernel path of "
                 "both ends on CPU 1, so with a proxy part of that work moves to CPU 0 and a proxy "
                 "row can exceed it.")
    lines.append("")
    lines.append("| proxy | direction | Gbit/s | × best | proxy CPU-s/GB | × best | proxy CPU % | "
                 "byte check | errors | CPU0 / CPU1 busy |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for direction in ("up", "down", "both"):
        rates = {p.name: median(r.get((p.name, "throughput", direction), []),
                                lambda x: x["gbit_s"]) for p in order}
        cpus = {p.name: median(r.get((p.name, "throughput", direction), []),
                               lambda x: x["proxy"]["cpu_s_per_gb"]) for p in order}
        best_rate_t = max((rates[n] for n in peer_names if rates.get(n)), default=None)
        best_cpu_t = min((cpus[n] for n in peer_names if cpus.get(n)), default=None)
        for p in order:
            reports = r.get((p.name, "throughput", direction), [])
            if not reports:
                continue
            pct = median(reports, lambda x: x["proxy"]["cpu_pct"])
            checks = sum(1 for x in reports if x["checks"]["bytes_match"])
            kinds = sorted({k for x in reports for k in x["errors"]})
            busy0 = median(reports, lambda x: x["cpu_busy_pct"]["cpu0"])
            busy1 = median(reports, lambda x: x["cpu_busy_pct"]["cpu1"])
            lines.append(
                f"| {p.name} | {direction} | {fmt(rates[p.name], 2)} | "
                f"{ratio(rates[p.name], best_rate_t)} | {fmt(cpus[p.name], 3)} | "
                f"{ratio(cpus[p.name], best_cpu_t)} | {fmt(pct)} | "
                f"{checks}/{len(reports)} match | {', '.join(kinds) or '—'} | "
                f"{fmt(busy0)}% / {fmt(busy1)}% |")
    lines.append("")

    # ---- idle
    lines.append(f"### Idle: {bench.args.idle} tunnels held {bench.args.hold_s:g} s")
    lines.append("")
    lines.append("Resident memory (RSS, user space: kernel socket buffers are not in it) and "
                 "descriptors of the proxy's process tree, after minus before, per tunnel held. "
                 "`alive` = tunnels that still answered a PING after the hold.")
    lines.append("")
    lines.append("| proxy | held / asked | alive | RSS bytes per tunnel | × best | fds per tunnel | "
                 "processes / threads | errors |")
    lines.append("|---|---|---|---|---|---|---|---|")
    rss = {p.name: median(r.get((p.name, "idle", ""), []),
                          lambda x: x["proxy"]["rss_bytes_per_tunnel"]) for p in order}
    best_rss = min((rss[n] for n in peer_names if rss.get(n) and rss[n] > 0), default=None)
    for p in order:
        reports = r.get((p.name, "idle", ""), [])
        if not reports or p.kind == "direct":
            continue
        x = reports[0]
        lines.append(
            f"| {p.name} | {x['idle_held']} / {x['idle_requested']} | "
            f"{x['idle_alive_after_hold']} | {fmt(rss[p.name])} | {ratio(rss[p.name], best_rss)} "
            f"| {fmt(x['proxy'].get('fds_per_tunnel'), 2)} | "
            f"{x['proxy'].get('processes', '—')} / {x['proxy'].get('threads', '—')} | "
            f"{x['errors_total']} |")
    lines.append("")

    # ---- tester view
    lines.append("### What a proxy tester sees (connect runs, all repetitions)")
    lines.append("")
    lines.append("Reply statuses with reason tokens (from `Proxy-Status`), errors by kind, "
                 "retries, and the spread of tunnels over exits: `next-hop` as the proxy named it "
                 "and the source addresses the target saw.")
    lines.append("")
    lines.append("| proxy | statuses | errors | retries | next-hop spread | source addresses "
                 "seen by the target |")
    lines.append("|---|---|---|---|---|---|")
    for p in order:
        for variant, _, _ in (p.connect_rows if p.kind != "direct" else [("", "", "")]):
            reports = r.get((p.name, "connect", variant), [])
            if not reports:
                continue
            merged = {}
            for key in ("statuses", "errors", "next_hops", "source_ips"):
                counts = {}
                for x in reports:
                    for k, v in x[key].items():
                        counts[k] = counts.get(k, 0) + v
                merged[key] = counts
            retries = sum(x["retries"] for x in reports)

            def show(counts, limit=6):
                if not counts:
                    return "—"
                total = sum(counts.values())
                items = sorted(counts.items(), key=lambda kv: -kv[1])
                text = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in items[:limit])
                return text + (f", +{len(items) - limit} more" if len(items) > limit else "")

            name = p.name + (f" ({variant})" if variant else "")
            lines.append(f"| {name} | {show(merged['statuses'])} | {show(merged['errors'])} | "
                         f"{retries} | {show(merged['next_hops'])} | "
                         f"{show(merged['source_ips'])} |")
    lines.append("")
    return lines


def goals_table(bench, peer_names):
    """The issue's goals, the peers' figures measured here, and Strait's when it ran."""
    r = bench.results
    directions = ("up", "down", "both")
    relays = [n for n in ("strait-splice", "strait-uring_splice")
              if any(k[0] == n for k in r)]
    strait_variants = ("http rotating", "http sticky-one", "http sticky-many", "http targeted")

    def connect(name, getter, variant=""):
        return median(r.get((name, "connect", variant), []), getter)

    def tput(name, direction, getter):
        return median(r.get((name, "throughput", direction), []), getter)

    def fmtv(v, d=0):
        return fmt(v, d) if v is not None else "not run"

    def verdict(ok):
        return "—" if ok is None else ("met" if ok else "**not met**")

    rate = lambda x: x["tunnels_per_s"]
    cpu = lambda x: x["proxy"]["cpu_us_per_tunnel"]
    p99 = lambda x: x["handshake_us"]["p99"]
    gbit = lambda x: x["gbit_s"]
    per_gb = lambda x: x["proxy"]["cpu_s_per_gb"]
    rss = lambda x: x["proxy"]["rss_bytes_per_tunnel"]

    tiny_rate = connect("tinyproxy", rate)
    hs = {n: connect(n, p99) for n in ("squid", "tinyproxy", "dante", "microsocks")}
    best_hs = min(((v, n) for n, v in hs.items() if v), default=(None, ""))
    idle = {n: median(r.get((n, "idle", ""), []), rss) for n in peer_names}

    rows = []
    # 1. tunnels/s with routing strings and auth.
    strait_cells, oks = [], []
    for relay in relays:
        rates = {v: connect(relay, rate, v) for v in strait_variants}
        worst = min((x for x in rates.values() if x), default=None)
        strait_cells.append(f"{relay}: rotating {fmtv(rates['http rotating'])}/s, worst routing "
                            f"{fmtv(worst)}/s")
        oks.append(worst is not None and tiny_rate is not None and worst >= 2 * tiny_rate)
    rows.append((
        "≥ 2× tinyproxy's tunnels/s with routing strings and auth",
        "tinyproxy ~7.4k/s at 64 workers, ~128 µs/tunnel",
        f"tinyproxy {fmtv(tiny_rate)}/s at {fmtv(connect('tinyproxy', cpu), 1)} µs/tunnel → "
        f"goal ≥ {fmtv(2 * tiny_rate if tiny_rate else None)}/s; squid "
        f"{fmtv(connect('squid', rate))}/s at {fmtv(connect('squid', cpu), 1)} µs; microsocks "
        f"{fmtv(connect('microsocks', rate))}/s at {fmtv(connect('microsocks', cpu), 1)} µs; "
        f"dante (no auth) {fmtv(connect('dante', rate))}/s at {fmtv(connect('dante', cpu), 1)} µs",
        strait_cells, oks))
    # 2. CPU per tunnel.
    strait_cells, oks = [], []
    for relay in relays:
        worst = max((x for x in (connect(relay, cpu, v) for v in strait_variants) if x),
                    default=None)
        strait_cells.append(f"{relay}: {fmtv(worst, 1)} µs (worst routing)")
        oks.append(worst is not None and worst <= 50)
    rows.append((
        "≤ 50 µs proxy CPU per tunnel (below the relays that parse nothing)",
        "HAProxy / nginx ~69 µs",
        f"HAProxy {fmtv(connect('haproxy', cpu), 1)} µs ({fmtv(connect('haproxy', rate))}/s), "
        f"nginx {fmtv(connect('nginx', cpu), 1)} µs ({fmtv(connect('nginx', rate))}/s)",
        strait_cells, oks))
    # 3. Throughput and CPU per GB against HAProxy.
    strait_cells, oks = [], []
    for relay in relays:
        cells = []
        ok = True
        for d in directions:
            g, c = tput(relay, d, gbit), tput(relay, d, per_gb)
            hg, hc = tput("haproxy", d, gbit), tput("haproxy", d, per_gb)
            cells.append(f"{d} {fmtv(g, 1)} Gbit/s at {fmtv(c, 3)}")
            ok = ok and None not in (g, c, hg, hc) and g >= hg and c <= hc
        strait_cells.append(f"{relay}: " + "; ".join(cells))
        oks.append(ok)
    rows.append((
        "≥ HAProxy's splice throughput at no more CPU per GB (8 tunnels)",
        "HAProxy ~17.7 Gbit/s, 0.22–0.25 CPU-s/GB; squid 0.58–0.67; tinyproxy ~2.0",
        "HAProxy " + "; ".join(f"{d} {fmtv(tput('haproxy', d, gbit), 1)} Gbit/s at "
                               f"{fmtv(tput('haproxy', d, per_gb), 3)}" for d in directions)
        + " CPU-s/GB; squid " + " / ".join(fmtv(tput("squid", d, per_gb), 2) for d in directions)
        + "; tinyproxy " + " / ".join(fmtv(tput("tinyproxy", d, per_gb), 2) for d in directions),
        strait_cells, oks))
    # 4. p99 handshake.
    strait_cells, oks = [], []
    for relay in relays:
        value = connect(relay, p99, "http rotating")
        strait_cells.append(f"{relay}: {fmtv(value)} µs")
        oks.append(value is not None and best_hs[0] is not None and value <= best_hs[0] / 2)
    rows.append((
        "p99 handshake at 64 workers ≤ half the best peer's", "—",
        f"best peer that parses a handshake: {best_hs[1]} {fmtv(best_hs[0])} µs → goal ≤ "
        f"{fmtv(best_hs[0] / 2 if best_hs[0] else None)} µs",
        strait_cells, oks))
    # 5. Idle memory.
    strait_cells, oks = [], []
    for relay in relays:
        value = median(r.get((relay, "idle", ""), []), rss)
        held = median(r.get((relay, "idle", ""), []), lambda x: x["idle_held"])
        strait_cells.append(f"{relay}: {fmtv(value)} B ({fmtv(held)} held)")
        oks.append(value is not None and value <= 2048 and held is not None and held >= 8000)
    rows.append((
        f"≤ 2 KiB user-space memory per idle tunnel at 8,000 tunnels", "—",
        "peers: " + ", ".join(f"{n} {fmtv(v)} B" for n, v in idle.items()),
        strait_cells, oks))

    lines = ["### The issue's goals, the peers measured here, and Strait", ""]
    if relays:
        lines.append("| goal (issue #5) | peer figure in the issue | peers measured here | "
                     "Strait measured here | met? |")
        lines.append("|---|---|---|---|---|")
        for goal, issue, peers_here, cells, oks in rows:
            lines.append(f"| {goal} | {issue} | {peers_here} | {'<br>'.join(cells)} | "
                         f"{' / '.join(verdict(ok) for ok in oks)} |")
    else:
        lines.append("| goal (issue #5) | peer figure in the issue | peers measured here |")
        lines.append("|---|---|---|")
        for goal, issue, peers_here, _, _ in rows:
            lines.append(f"| {goal} | {issue} | {peers_here} |")
    lines.append("")
    return lines


def machine_notes(proxies, versions, args, started, finished, foreign):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    debian = open("/etc/debian_version").read().strip() if os.path.exists(
        "/etc/debian_version") else "?"
    lines = [
        f"Machine: {os.cpu_count()} vCPU {cpu}, kernel {platform.release()}, Debian {debian}, "
        f"run {started:%Y-%m-%d %H:%M} UTC, {(finished - started).total_seconds() / 60:.1f} min.",
        "Pinning: the proxy alone on CPU 0 (`taskset -c 0`, children inherit it), the load "
        "generator and the target on CPU 1; Strait with one shard. Clients bind 127.0.1.1–8 and "
        "tunnels rotate over target ports 19000–19007 (relays: 8 servers round-robin), so no "
        "leg runs out of ephemeral ports (one address pair caps loopback at ~14k tunnels/s "
        "through TIME_WAIT).",
        f"Versions: " + "; ".join(v for v in versions if v) + ".",
        f"Other load on the box: the machine is shared; CPU 0 busy beyond the proxy's own CPU "
        f"was a median {foreign:.0f}% during the connect runs (softirq work of loopback TCP is "
        f"also counted there, not in the proxy's process time).",
        f"Priority: proxy, target and generator ran at niceness {args.nice} so that other work "
        "on the shared box takes less of the measured cores.",
        "Proxy CPU is utime+stime of the proxy's process tree from /proc/<pid>/stat (10 ms "
        "ticks); softirq time is not in it.",
    ]
    return [f"- {line}" for line in lines]


def write_readme(path, section_lines):
    body = "\n".join([f"## {SECTION}", "", BEGIN_MARK, ""] + section_lines + [END_MARK, ""])
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    else:
        text = "# Strait benchmarks\n\n"
    header = f"## {SECTION}"
    if BEGIN_MARK in text and END_MARK in text:
        start = text.index(header) if header in text else text.index(BEGIN_MARK)
        end = text.index(END_MARK) + len(END_MARK)
        text = text[:start] + body.rstrip("\n") + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load", default="", help="strait_load binary")
    parser.add_argument("--strait", default="", help="strait daemon binary (empty: skip)")
    parser.add_argument("--only", default="", help="comma-separated proxy names")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--connect-s", type=float, default=2.5)
    parser.add_argument("--tunnels", type=int, default=8)
    parser.add_argument("--throughput-s", type=float, default=2.5)
    parser.add_argument("--idle", type=int, default=8000)
    parser.add_argument("--hold-s", type=float, default=2)
    parser.add_argument("--readme", default=os.path.join(REPO, "bench", "README.md"))
    parser.add_argument("--command", default="bench/run_peers.sh")
    parser.add_argument("--nice", type=int, default=-10,
                        help="niceness of the proxy, target and generator (0: unchanged); the "
                             "box is shared, and a higher priority keeps other work off the "
                             "measured cores' time")
    parser.add_argument("--from-results", default="",
                        help="write the README section from a previous run's results.json "
                             "instead of measuring")
    args = parser.parse_args()
    if args.from_results:
        with open(args.from_results) as f:
            saved = json.load(f)
        results = {tuple(k.split("|", 2)): v for k, v in saved["results"].items()}
        render(results, saved["meta"], args.readme)
        print(f"wrote {args.readme} from {args.from_results}")
        return
    if not args.load:
        parser.error("--load is required unless --from-results is given")
    args.nice_prefix = ["nice", "-n", str(args.nice)] if args.nice else []

    started = datetime.datetime.utcnow()
    run = tempfile.mkdtemp(prefix="strait-bench-")
    os.chmod(run, 0o777)  # squid and tinyproxy write logs and pids as unprivileged users
    render_configs(run)
    print(f"run directory: {run}", flush=True)

    proxies = [Proxy("direct", "direct", "direct", "none", "—", "— (no proxy: the floor)", None,
                     0)]
    proxies += peers()
    if args.strait:
        proxies += strait_proxies(args.strait)
    if args.only:
        wanted = set(args.only.split(","))
        proxies = [p for p in proxies if p.name in wanted or p.name == "direct"]
    peer_names = [p.name for p in proxies if p.kind != "direct" and not p.strait]

    busy = [p for p in range(19000, 19000 + TARGET_PORTS) if port_busy(p)]
    if busy:
        sys.exit(f"ports {busy} are already in use on 127.0.0.1: stop what listens there first")
    target = subprocess.Popen(args.nice_prefix + ["taskset", "-c", GENERATOR_CPU, args.load, "target", "--listen",
                               TARGET, "--ports", str(TARGET_PORTS), "--max-run-s", "3600"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench = Bench(args, args.load, run)
    versions = []
    foreign = []
    not_run = []
    try:
        if not wait_port(19000, target):
            sys.exit("target did not start")
        for proxy in proxies:
            if proxy.kind == "direct":
                print("direct", flush=True)
                bench.measure(proxy, 0)
                continue
            versions.append(version_of(proxy))
            if proxy.strait:
                check = subprocess.run([args.strait, "--check-config",
                                        proxy.command[2].format(run=run)],
                                       capture_output=True, text=True)
                if check.returncode != 0:
                    print(f"{proxy.name}: --check-config failed:\n{check.stderr}",
                          file=sys.stderr)
                    not_run.append(proxy.name)
                    continue
            if port_busy(proxy.port):
                print(f"{proxy.name}: 127.0.0.1:{proxy.port} is already in use; skipped",
                      file=sys.stderr)
                not_run.append(f"{proxy.name} (port {proxy.port} busy)")
                continue
            command = args.nice_prefix + ["taskset", "-c", PROXY_CPU] + [
                c.format(run=run) for c in proxy.command]
            log = open(os.path.join(run, f"{proxy.name}.log"), "w")
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=run)
            try:
                if not wait_port(proxy.port, process):
                    print(f"{proxy.name} did not start; see {run}/{proxy.name}.log",
                          file=sys.stderr)
                    not_run.append(proxy.name)
                    continue
                time.sleep(0.5)
                print(f"{proxy.name} (pid {process.pid})", flush=True)
                bench.measure(proxy, process.pid)
                for x in bench.results.get((proxy.name, "connect", proxy.connect_rows[0][0]), []):
                    foreign.append(x["cpu_busy_pct"]["cpu0"] - x["proxy"]["cpu_pct"])
            finally:
                stop(process)
                log.close()
    finally:
        stop(target)

    finished = datetime.datetime.utcnow()
    meta = {
        "started": started.isoformat(), "finished": finished.isoformat(),
        "versions": versions, "foreign": foreign, "not_run": not_run,
        "strait": bool(args.strait), "command": args.command, "nice": args.nice,
        "reps": args.reps, "workers": args.workers, "connect_s": args.connect_s,
        "tunnels": args.tunnels, "throughput_s": args.throughput_s, "idle": args.idle,
        "hold_s": args.hold_s, "only": args.only,
    }
    results_path = os.path.join(run, "results.json")
    with open(results_path, "w") as f:
        json.dump({"meta": meta, "results": {f"{k[0]}|{k[1]}|{k[2]}": v
                                             for k, v in bench.results.items()}}, f)
    render(bench.results, meta, args.readme)
    print(f"wrote {args.readme}; raw reports in {run} (tables again: "
          f"--from-results {results_path})", flush=True)


def render(results, meta, readme):
    """Writes the README section from measured reports and the run's notes."""
    args = argparse.Namespace(**{k: meta[k] for k in (
        "reps", "workers", "connect_s", "tunnels", "throughput_s", "idle", "hold_s", "nice")})
    proxies = [Proxy("direct", "direct", "direct", "none", "—", "— (no proxy: the floor)", None,
                     0)] + peers()
    if meta["strait"]:
        proxies += strait_proxies("strait")
    present = {k[0] for k in results}
    proxies = [p for p in proxies if p.name in present]
    peer_names = [p.name for p in proxies if p.kind != "direct" and not p.strait]
    bench = argparse.Namespace(results=results, args=args)
    started = datetime.datetime.fromisoformat(meta["started"])
    finished = datetime.datetime.fromisoformat(meta["finished"])
    foreign = meta["foreign"]

    section = [
        "Strait's daemon against the proxies operators run today, end to end on loopback: "
        "connect rate and latency, throughput and CPU per byte, memory per idle tunnel, and "
        "what a proxy tester checks. Written by the script; do not edit by hand.",
        "",
        f"Command: `{meta['command']}` (about {(finished - started).total_seconds() / 60:.0f} "
        f"minutes; `--help` for options).",
        "",
    ]
    if not meta["strait"]:
        section += ["**Strait rows: not run.** The daemon (`//tools:strait`) was not in the tree "
                    "when this was measured; the script runs both relay strategies "
                    "(`splice`, `uring_splice`) as soon as it builds.", ""]
    if meta["not_run"]:
        section += [f"Not run (did not start): {', '.join(meta['not_run'])}.", ""]
    section += machine_notes(proxies, meta["versions"], args, started, finished,
                             statistics.median(foreign) if foreign else 0.0)
    section += [""]
    section += goals_table(bench, peer_names)
    section += tables(bench, proxies, peer_names)
    section += [
        "Reading the tables: `parses nothing` rows (HAProxy, nginx stream) forward every "
        "connection to a fixed target, so their handshake is only the TCP connect and they "
        "check no credentials; HTTP CONNECT and SOCKS5 rows parse a request and check Basic or "
        "RFC 1929 credentials (dante: none). `direct` is the load generator's own ceiling on "
        "one core for connect. CPU1 near 100% means the generator's core was "
        "saturated and the rate is a lower bound for the proxy; CPU per tunnel and per GB do "
        "not depend on it.",
        "",
    ]
    findings = os.path.join(PEERS_DIR, "findings.md")
    if os.path.exists(findings):
        with open(findings) as f:
            section += [f.read().rstrip("\n"), ""]
    write_readme(readme, section)


if __name__ == "__main__":
    main()

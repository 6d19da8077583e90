#!/usr/bin/env python3
"""postfix_bench — end-to-end throughput through a real Postfix: no milter, null milter, mailwarden.

One private Postfix instance on loopback (tests/integration/mwlab.py's PostfixInstance: own
config_directory, queue_directory and data_directory under a temporary lab directory) relays
everything to Postfix's smtp-sink on another loopback port.  master.cf has three smtpd
services on three ports: one with no milter; one with `-o smtpd_milters=` mw-null-milter in
its stock form (no behaviour options: plain libmilter, a reply to every step, every message
accepted: what a milter that does nothing costs); one with `-o smtpd_milters=`
mailwarden-milter (started from a config whose only rule file is the source tree's
rules/default.yaml, every decision logged as conf/mailwarden.yaml does).  Everything behind
smtpd (cleanup, qmgr, smtp, the queue) is shared, so the three differ by the milter alone.

smtp-source loads one port at a time (-s sessions in parallel, one message per connection,
-l bytes each); runs alternate no-milter / null milter / mailwarden, ROUNDS times, after an
unmeasured warm-up on each.  A run's time is from smtp-source's start until smtp-sink has
received all of its messages (smtp-sink -c counters), i.e. messages accepted by the sink per
second; the injection time (smtp-source's own wall time) is reported too.  Every mailwarden
run is checked against the decision log (one "accept" decision per message) and every run
against the sink.  Reported: the ratios mailwarden/none, null/none and mailwarden/null.

Needs root (Postfix), postfix, smtp-source and smtp-sink.  Stops everything it started on
exit (mwlab's bookkeeping), and bounds each run (--max-run seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import mwlab  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NULL_MILTER_NAME = "mw-null-milter"


def null_milter_bin() -> Path:
    """The null milter: $MW_NULL_MILTER_BIN or build/bench/mw-null-milter."""
    return Path(os.environ.get("MW_NULL_MILTER_BIN") or REPO / "build/bench/mw-null-milter")


class BenchPostfix(mwlab.PostfixInstance):
    """mwlab's Postfix with more smtpd services, each with its own smtpd_milters."""

    def __init__(self, root: Path, *, plain_port: int, milter_services: dict[int, str],
                 relay_port: int, params: dict[str, str]):
        super().__init__(root, smtpd_port=plain_port, relay_port=relay_port, milter=None,
                         non_smtpd_milter=None, params=params)
        self.milter_services = dict(milter_services)   # port -> milter socket spec

    def master_cf(self) -> str:
        services = "".join(f"127.0.0.1:{port} inet n - n - - smtpd\n"
                           f"  -o smtpd_milters={spec}\n"
                           for port, spec in self.milter_services.items())
        return (f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd\n" + services
                + mwlab.MASTER_CF_SERVICES)

    def start(self) -> None:
        super().start()
        for port, spec in self.milter_services.items():
            mwlab.wait_until(lambda port=port: mwlab.tcp_accepts("127.0.0.1", port), 15,
                             what=f"the smtpd service on port {port} ({spec})")


class NullMilter:
    """mw-null-milter in its stock form on a loopback port: only --socket and --max-runtime
    (a bound on its life), no option that changes what it does."""

    def __init__(self, root: Path, pidfile: Path, max_runtime: int, unix: bool = False):
        if unix:
            self.spec = f"unix:{root / 'null-milter.sock'}"
        else:
            self.spec = f"inet:127.0.0.1:{mwlab.free_port()}"
        self.err = root / "null-milter.err"
        self.proc = mwlab.ManagedProcess(
            [null_milter_bin(), "--socket", self.spec, "--max-runtime", str(max_runtime)],
            stderr=self.err, pidfile=pidfile)
        try:
            mwlab.wait_until(lambda: f"{NULL_MILTER_NAME}: ready on" in self.stderr()
                             or not self.proc.running, 10, what="mw-null-milter to be ready")
        except TimeoutError:
            self.proc.kill()
            raise mwlab.LabError(f"mw-null-milter not ready: {self.stderr()}") from None
        if not self.proc.running:
            raise mwlab.LabError(f"mw-null-milter exited: {self.stderr()}")
        if unix:   # libmilter leaves the socket to the umask; smtpd runs as postfix
            os.chmod(self.spec[len("unix:"):], 0o666)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return mwlab.read_text(self.err)

    def stop(self) -> None:
        self.proc.terminate(10)   # libmilter notices SIGTERM within about 5 s


class Sink:
    """smtp-sink without dump files; -c prints "sess=N quit=N mesg=N" counters on stdout."""

    def __init__(self, root: Path, pidfile: Path):
        self.port = mwlab.free_port()
        self.out = root / "sink.out"
        self.proc = mwlab.ManagedProcess(
            [mwlab.SMTP_SINK, "-u", "postfix", "-c", "-h", "sink.bench.example",
             f"127.0.0.1:{self.port}", "256"],
            stdout=self.out, stderr=root / "sink.err", pidfile=pidfile)
        mwlab.wait_until(lambda: mwlab.tcp_accepts("127.0.0.1", self.port)
                         or not self.proc.running, 10, what="smtp-sink to listen")
        if not self.proc.running:
            raise mwlab.LabError(f"smtp-sink exited: {mwlab.read_text(root / 'sink.err')}")

    def messages(self) -> int:
        # The file only grows; the counters of the last update are at its end.
        try:
            with open(self.out, "rb") as f:
                f.seek(max(0, f.seek(0, 2) - 200))
                tail = f.read().decode("ascii", "replace")
        except FileNotFoundError:
            return 0
        found = re.findall(r"mesg=(\d+)", tail)
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        self.proc.terminate(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, /proc/stat), in seconds."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def decisions(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in mwlab.read_text(path).splitlines():
        try:
            action = json.loads(line)["event"]["action"]
        except (ValueError, KeyError, TypeError):
            action = "?"
        counts[action] = counts.get(action, 0) + 1
    return counts


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_once(port: int, sink: Sink, args: argparse.Namespace, n: int) -> dict:
    """One smtp-source run of n messages to port; returns its timings."""
    before = sink.messages()
    busy0 = machine_busy_seconds()
    t0 = time.monotonic()
    proc = subprocess.run(
        [SMTP_SOURCE, "-s", str(args.sessions), "-l", str(args.length), "-m", str(n),
         "-f", "sender@bench.example", "-t", "rcpt@bench.example",
         "-M", "client.bench.example", f"127.0.0.1:{port}"],
        capture_output=True, timeout=args.max_run)
    injected = time.monotonic() - t0
    if proc.returncode != 0:
        raise mwlab.LabError(f"smtp-source exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace')[-500:]}")
    left = max(1.0, args.max_run - injected)
    try:
        mwlab.wait_until(lambda: sink.messages() >= before + n, left, interval=0.01,
                         what=f"{n} messages at the sink")
    except TimeoutError as e:
        raise mwlab.LabError(f"{e} (got {sink.messages() - before})") from None
    done = time.monotonic() - t0
    busy = machine_busy_seconds() - busy0
    return {"messages": n, "inject_s": injected, "total_s": done, "busy_s": busy,
            "msgs_per_s": n / done, "inject_msgs_per_s": n / injected}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=3000, help="messages per measured run")
    p.add_argument("--sessions", type=int, default=16, help="smtp-source -s (parallel sessions)")
    p.add_argument("--length", type=int, default=4096, help="smtp-source -l (message bytes)")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternations no-milter / null milter / mailwarden")
    p.add_argument("--warmup", type=int, default=300, help="unmeasured messages per service")
    p.add_argument("--rules", default=str(REPO / "rules" / "default.yaml"))
    p.add_argument("--max-run", type=float, default=110.0,
                   help="bound on one run, seconds (default 110)")
    p.add_argument("--unix", action="store_true",
                   help="both milters on unix sockets instead of loopback TCP")
    p.add_argument("--verdict-header", default=None, metavar="NAME",
                   help="mailwarden's milter.verdict_header (default: the shipped default; "
                        "\"\" for none)")
    p.add_argument("--json", action="store_true", help="also print one JSON line at the end")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("postfix_bench: needs root (a private Postfix instance)", file=sys.stderr)
        return 2
    if not mwlab.milter_bin().exists():
        print(f"postfix_bench: no {mwlab.milter_bin()} (build, or set MW_MILTER_BIN)",
              file=sys.stderr)
        return 2
    if not os.access(null_milter_bin(), os.X_OK):
        print(f"postfix_bench: no {null_milter_bin()} (build mw-null-milter, or set "
              "MW_NULL_MILTER_BIN)", file=sys.stderr)
        return 2

    rules = str(Path(args.rules).resolve())
    milter_params = {"connection_timeout": "300s"}
    if args.verdict_header is not None:
        milter_params["verdict_header"] = args.verdict_header
    lab = mwlab.Lab(milter=True, postfix=False, rule_files=[rules], name="postfix-bench",
                    milter_config={"milter": milter_params}, unix_sockets=args.unix)
    with lab:
        pidfile = lab.dir / "pids"
        sink = Sink(lab.dir, pidfile)
        mwlab.register_cleanup(sink.stop)
        # The null milter lives at most as long as all the runs may take, and then some.
        null = NullMilter(lab.dir, pidfile,
                          max_runtime=int(args.max_run * 3 * (args.rounds + 1)) + 300,
                          unix=args.unix)
        mwlab.register_cleanup(null.stop)
        plain_port, null_port, milter_port = (mwlab.free_port(), mwlab.free_port(),
                                              mwlab.free_port())
        postfix = BenchPostfix(lab.dir, plain_port=plain_port,
                               milter_services={null_port: null.spec,
                                                milter_port: lab.milter.spec.postfix()},
                               relay_port=sink.port, params={"default_process_limit": "200"})
        postfix.start()
        try:
            milter_pid = lab.milter.pid
            print(f"postfix-bench: Postfix {postfix.postconf('mail_version')['mail_version']}, "
                  f"smtp-source -s {args.sessions} -l {args.length} -m {args.messages}, "
                  f"one message per connection, {args.rounds} round(s)")
            print(f"  no milter: smtpd on 127.0.0.1:{plain_port}; null: smtpd on "
                  f"127.0.0.1:{null_port} -> {null.spec} (mw-null-milter, stock)")
            print(f"  mailwarden: smtpd on 127.0.0.1:{milter_port} -> "
                  f"{lab.milter.spec.postfix()} ({rules})")
            start_load = loadavg()
            print(f"  machine: {os.cpu_count()} cores; load at start: {start_load}")
            modes = (("none", plain_port), ("null", null_port), ("mailwarden", milter_port))
            for _, port in modes:
                run_once(port, sink, args, args.warmup)
            results: dict[str, list[dict]] = {mode: [] for mode, _ in modes}
            cpu = 0.0
            null_cpu = 0.0
            print(f"  {'run':<18} {'msgs':>6} {'total s':>8} {'msg/s':>8} {'inject s':>9} "
                  f"{'inject msg/s':>13}")
            for r in range(1, args.rounds + 1):
                for mode, port in modes:
                    logged = sum(decisions(lab.milter_log_path).values())
                    c0, n0 = cpu_seconds(milter_pid), cpu_seconds(null.pid)
                    res = run_once(port, sink, args, args.messages)
                    if mode == "null":
                        null_cpu += cpu_seconds(null.pid) - n0
                    if mode == "mailwarden":
                        cpu += cpu_seconds(milter_pid) - c0
                        # One decision per message (the log may trail by a moment).
                        def logged_now() -> int:
                            return sum(decisions(lab.milter_log_path).values()) - logged
                        try:
                            mwlab.wait_until(lambda: logged_now() >= args.messages, 10,
                                             what="the decisions")
                        except TimeoutError:
                            pass
                        if logged_now() != args.messages:
                            raise mwlab.LabError(f"{logged_now()} decisions logged for "
                                                 f"{args.messages} messages")
                    results[mode].append(res)
                    print(f"  {mode + ' #' + str(r):<18} {res['messages']:>6} "
                          f"{res['total_s']:>8.2f} {res['msgs_per_s']:>8.1f} "
                          f"{res['inject_s']:>9.2f} {res['inject_msgs_per_s']:>13.1f}")
            end_load = loadavg()
            verdicts = decisions(lab.milter_log_path)
            rss = vm_kb(milter_pid, "VmHWM")
            null_rss = vm_kb(null.pid, "VmHWM")
            warnings = [line for line in postfix.maillog_text().splitlines()
                        if " warning: " in line or " fatal: " in line or "milter-" in line]
        finally:
            postfix.stop()
            null.stop()

    def rate(mode: str, key: str = "total_s") -> float:
        runs = results[mode]
        return sum(x["messages"] for x in runs) / sum(x[key] for x in runs)

    def busy_per_msg(mode: str) -> float:
        runs = results[mode]
        return sum(x["busy_s"] for x in runs) / sum(x["messages"] for x in runs)

    def rounds_ratio(num: str, den: str) -> list[float]:
        return [a["msgs_per_s"] / b["msgs_per_s"] for a, b in zip(results[num], results[den])]

    def percent(xs: list[float]) -> str:
        return ", ".join(f"{100 * x:.1f}%" for x in xs)

    none, nul, mw = rate("none"), rate("null"), rate("mailwarden")
    per_round = rounds_ratio("mailwarden", "none")
    null_per_round = rounds_ratio("null", "none")
    mw_null_per_round = rounds_ratio("mailwarden", "null")
    ratio, null_ratio, mw_null_ratio = mw / none, nul / none, mw / nul
    measured = args.rounds * args.messages
    print(f"  load at end: {end_load}")
    print(f"  no milter   {none:8.1f} msg/s (inject {rate('none', 'inject_s'):.1f} msg/s)")
    print(f"  null milter {nul:8.1f} msg/s (inject {rate('null', 'inject_s'):.1f} msg/s)")
    print(f"  mailwarden  {mw:8.1f} msg/s (inject {rate('mailwarden', 'inject_s'):.1f} msg/s)")
    print(f"  ratio mailwarden/none {100 * ratio:.1f}% (per round {percent(per_round)}; "
          f"target >= 90%: {'met' if ratio >= 0.9 else 'NOT met'})")
    print(f"  ratio null/none       {100 * null_ratio:.1f}% (per round "
          f"{percent(null_per_round)})")
    print(f"  ratio mailwarden/null {100 * mw_null_ratio:.1f}% (per round "
          f"{percent(mw_null_per_round)})")
    print(f"  mailwarden-milter: {1000 * cpu / measured:.3f} ms CPU per message, "
          f"VmHWM {rss} kB, decisions {verdicts}")
    print(f"  mw-null-milter: {1000 * null_cpu / measured:.3f} ms CPU per message, "
          f"VmHWM {null_rss} kB")
    print("  machine CPU per message (all processes, both cores): " + ", ".join(
        f"{mode} {1000 * busy_per_msg(mode):.2f} ms" for mode in ("none", "null", "mailwarden")))
    print(f"  Postfix warnings/milter actions in the maillog: {len(warnings)}")
    for line in warnings[:5]:
        print(f"    {line}")
    if args.json:
        print(json.dumps({
            "tool": "postfix-bench", "sessions": args.sessions, "length": args.length,
            "messages": args.messages, "rounds": args.rounds,
            "load_start": start_load, "load_end": end_load, "none_msgs_per_s": round(none, 1),
            "null_msgs_per_s": round(nul, 1),
            "mailwarden_msgs_per_s": round(mw, 1), "ratio": round(ratio, 4),
            "ratio_per_round": [round(x, 4) for x in per_round],
            "ratio_median": round(statistics.median(per_round), 4),
            "ratio_null_none": round(null_ratio, 4),
            "ratio_null_none_per_round": [round(x, 4) for x in null_per_round],
            "ratio_mailwarden_null": round(mw_null_ratio, 4),
            "ratio_mailwarden_null_per_round": [round(x, 4) for x in mw_null_per_round],
            "milter_cpu_ms_per_msg": round(1000 * cpu / measured, 4),
            "socket": "unix" if args.unix else "inet",
            "verdict_header": args.verdict_header,
            "machine_cpu_ms_per_msg": {m: round(1000 * busy_per_msg(m), 3)
                                       for m in ("none", "null", "mailwarden")},
            "milter_vmhwm_kb": rss, "decisions": verdicts,
            "null_cpu_ms_per_msg": round(1000 * null_cpu / measured, 4),
            "null_vmhwm_kb": null_rss,
            "maillog_warnings": len(warnings),
            "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Golden test of the classified-document check (REGULATIONS.md M7) and the legacy-encoding
finding (M8): builds every message of tests/data/classified/make_fixtures.py, runs each
through `mailwarden-milter --test` with the shipped rules (rules/default.yaml) and compares
with the manifest:

* a message with a marking: verdict quarantine (exit 3), event.action quarantine, rule.id
  classified-document, rule.name classified_document, event.severity 73, event.kind alert,
  one classified_document finding whose evidence.markings[] holds every expected marking
  (degree, where, kind, part, name, line, encoding as the case pins them; no encoding on
  a marking in Unicode text) and nothing that matches none of them;
* a message without: verdict accept (exit 0) and no classified_document finding;
* legacy encodings: the legacy_encoding finding (action accept) with exactly the expected
  encodings and part/encoding pairs, or no such finding where the case says none;
* never document text in the output: the case's secret sentences appear nowhere in what
  the milter printed.

usage: check_classified.py MILTER_BINARY [--keep DIR] [--only SUBSTRING] [--verbose]
--keep writes the fixtures to DIR (kept) instead of a temporary directory; --only runs the
cases whose file name contains SUBSTRING; --verbose prints the milter's output of every case.
Exit status 1 when any case differs (each difference is printed with the milter's output).
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "data" / "classified"))
sys.dont_write_bytecode = True
import make_fixtures  # noqa: E402

RULE_ID = "classified-document"
EXIT_CODES = {"accept": 0, "reject": 1, "tempfail": 2, "quarantine": 3}
# Keys on which a reported marking must agree with one of the expected ones.
IDENTITY_KEYS = ("degree", "where", "kind", "part", "name")


def field(obj, dotted, default=None):
    for key in dotted.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def run_case(binary, config, eml):
    try:
        run = subprocess.run(
            [binary, "--config", config, "--test", str(eml), "--from", make_fixtures.SENDER,
             "--rcpt", make_fixtures.RCPT, "--client-ip", "192.0.2.10"],
            capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, "", f"could not run {binary}: {e}"
    return (run.returncode, run.stdout.decode("utf-8", "replace"),
            run.stderr.decode("utf-8", "replace"))


def describe_markings(markings):
    return ", ".join(
        f"{m.get('degree')}/{m.get('kind')}/{m.get('where')}@{m.get('part', '-')}"
        + (f":{m['line']}" if "line" in m else "")
        + (f"[{m['encoding']}]" if m.get("encoding") else "")
        + ("[no encoding]" if "encoding" in m and m["encoding"] is None else "")
        for m in markings) or "-"


def matches(got, want, keys):
    """want[k] None: got has no k."""
    return all(got.get(k) == want[k] for k in keys if k in want)


def judge(case, rc, stdout, stderr):
    """Returns (what was found, [problems])."""
    problems = []
    lines = stdout.splitlines()
    if rc not in EXIT_CODES.values() or len(lines) < 2:
        return "error", [f"exit {rc}: {stderr.strip()[-500:]}"]
    try:
        record = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        return "error", [f"last output line is not JSON ({e})"]
    verdict = lines[0].split()[1] if lines[0].startswith("verdict: ") else lines[0]
    findings = field(record, "mailwarden.findings") or []
    classified = [f for f in findings if f.get("check") == "classified_document"]
    legacy = [f for f in findings if f.get("check") == "legacy_encoding"]
    got_markings = [m for f in classified for m in (field(f, "evidence.markings") or [])]
    summary = f"{verdict} {describe_markings(got_markings)}"

    want = case["verdict"]
    if verdict != want:
        problems.append(f"verdict {verdict}, expected {want}")
    if rc != EXIT_CODES[want]:
        problems.append(f"exit status {rc}, expected {EXIT_CODES[want]}")
    if field(record, "event.action") != want:
        problems.append(f"event.action {field(record, 'event.action')!r}, expected {want!r}")

    if want == "quarantine":
        for key, value in (("rule.id", RULE_ID), ("rule.name", "classified_document"),
                           ("event.severity", 73), ("event.kind", "alert")):
            if field(record, key) != value:
                problems.append(f"{key} {field(record, key)!r}, expected {value!r}")
        if len(classified) != 1:
            problems.append(f"{len(classified)} classified_document findings, expected 1")
        for f in classified:
            if f.get("rule_id") != RULE_ID or f.get("action") != "quarantine":
                problems.append(f"finding rule_id/action {f.get('rule_id')!r}/"
                                f"{f.get('action')!r}, expected {RULE_ID!r}/'quarantine'")
        for w in case["markings"]:
            if not any(matches(g, w, w.keys()) for g in got_markings):
                problems.append(f"missing marking {describe_markings([w])}"
                                + (f" name={w['name']!r}" if "name" in w else ""))
        for g in got_markings:
            if not any(matches(g, w, IDENTITY_KEYS) for w in case["markings"]):
                problems.append(f"unexpected marking {describe_markings([g])}"
                                + (f" name={g.get('name')!r}" if "name" in g else ""))
    elif classified:
        problems.append(f"classified_document finding on a message without a marking: "
                        f"{describe_markings(got_markings)}")

    if "legacy" in case:
        expected = case["legacy"]
        if expected is None:
            if legacy:
                problems.append("legacy_encoding finding where none is expected: "
                                + json.dumps(legacy[0].get("evidence"), ensure_ascii=False))
        elif len(legacy) != 1:
            problems.append(f"{len(legacy)} legacy_encoding findings, expected 1 "
                            f"({expected['encodings']})")
        else:
            ev = legacy[0].get("evidence") or {}
            if legacy[0].get("action") != "accept":
                problems.append(f"legacy_encoding action {legacy[0].get('action')!r}")
            if sorted(ev.get("encodings") or []) != sorted(expected["encodings"]):
                problems.append(f"legacy encodings {ev.get('encodings')}, expected "
                                f"{expected['encodings']}")
            got_parts = sorted((p.get("part"), p.get("encoding")) for p in ev.get("parts") or [])
            want_parts = sorted((p["part"], p["encoding"]) for p in expected["parts"])
            if got_parts != want_parts:
                problems.append(f"legacy parts {got_parts}, expected {want_parts}")
        if legacy:
            summary += " legacy=" + ",".join(field(legacy[0], "evidence.encodings") or ["?"])

    for secret in case.get("secrets", []):
        for label, text in (("stdout", stdout), ("stderr", stderr)):
            if secret in text:
                problems.append(f"document text in the milter's {label}: {secret[:40]!r}...")
    return summary, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--keep", type=pathlib.Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    defaults = subprocess.run([args.binary, "--print-defaults"], capture_output=True,
                              text=True, timeout=60)
    if "classified_document" not in defaults.stdout:
        print("note: this mailwarden-milter does not list the classified_document check "
              "(--print-defaults)")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or pathlib.Path(tmp) / "fixtures"
        cases = [c for c in make_fixtures.build(out) if args.only in c["file"]]
        config = pathlib.Path(tmp) / "mailwarden.yaml"
        config.write_text(
            "version: 1\n"
            f"rule_files: [{REPO / 'rules' / 'default.yaml'}]\n"
            "domains:\n  internal: [bacgiang.gov.vn]\n"
            "log:\n  output: stdout\n")
        workers = max(2, min(8, os.cpu_count() or 2))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            outputs = list(pool.map(
                lambda c: run_case(args.binary, str(config), out / c["file"]), cases))

    failures = 0
    width = max(len(c["file"]) for c in cases) - 4 if cases else 10
    print(f"{'case':<{width}}  {'expected':<10}  {'got':<60}  result")
    for case, (rc, stdout, stderr) in zip(cases, outputs):
        summary, problems = judge(case, rc, stdout, stderr)
        name = case["file"][:-4]
        print(f"{name:<{width}}  {case['verdict']:<10}  {summary[:60]:<60}  "
              f"{'ok' if not problems else 'FAIL'}")
        if problems or args.verbose:
            for p in problems:
                print(f"    - {p}")
            print(f"    ({case['about']})")
            out_lines = stdout.splitlines()
            if out_lines:
                print(f"    {out_lines[0]}")
                try:
                    record = json.loads(out_lines[-1])
                    print("    findings: " + json.dumps(field(record, "mailwarden.findings"),
                                                       ensure_ascii=False))
                    print("    event: " + json.dumps(record.get("event"), ensure_ascii=False)
                          + " rule: " + json.dumps(record.get("rule"), ensure_ascii=False))
                except (json.JSONDecodeError, IndexError):
                    print("    " + "\n    ".join(out_lines[-5:]))
            if stderr.strip():
                print("    stderr: " + stderr.strip()[-400:].replace("\n", "\n    "))
        failures += bool(problems)
    if not cases:
        print("no cases")
        return 1
    print(f"{len(cases) - failures}/{len(cases)} classified-document cases as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

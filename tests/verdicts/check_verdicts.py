#!/usr/bin/env python3
"""Golden verdicts: every tests/data/verdicts/*.eml through `mailwarden-milter --test` with the
shipped rules (rules/default.yaml), compared with its .expected file: the verdict line, then
one line per attachment as the decision log records it (part path, name, size, true type,
archive format and member count).

usage: check_verdicts.py MILTER_BINARY [--update]
--update rewrites the .expected files from the current output (review the diff).
"""
import json
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "verdicts"


def describe(binary, config, eml):
    run = subprocess.run(
        [binary, "--config", config, "--test", str(eml), "--from", "a@example.net",
         "--rcpt", "b@bacgiang.gov.vn", "--client-ip", "192.0.2.10"],
        capture_output=True, text=True, timeout=60)
    if run.returncode not in (0, 1, 2, 3):
        return None, f"exit {run.returncode}: {run.stderr.strip()}"
    lines = run.stdout.splitlines()
    record = json.loads(lines[-1])
    out = [lines[0]]
    for a in record.get("email", {}).get("attachments", []):
        f, mw = a["file"], a["mailwarden"]
        line = f"part {mw['part']} name={f.get('name', '')!r} size={f['size']}"
        if "true_type" in mw:
            line += f" true_type={mw['true_type']}"
        if "archive" in mw:
            line += f" archive={mw['archive']['format']}/{mw['archive']['members']}"
        out.append(line)
    return "\n".join(out) + "\n", None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, update = sys.argv[1], "--update" in sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        config = pathlib.Path(tmp) / "mailwarden.yaml"
        config.write_text(
            "version: 1\n"
            f"rule_files: [{REPO / 'rules' / 'default.yaml'}]\n"
            "domains:\n  internal: [bacgiang.gov.vn]\n"
            "log:\n  output: stdout\n")
        failures = 0
        emls = sorted(DATA.glob("*.eml"))
        for eml in emls:
            got, error = describe(binary, str(config), eml)
            expected_path = eml.with_suffix(".expected")
            if error:
                print(f"FAIL {eml.name}: {error}")
                failures += 1
                continue
            if update:
                expected_path.write_text(got)
                continue
            want = expected_path.read_text() if expected_path.exists() else "(no .expected file)\n"
            if got != want:
                print(f"FAIL {eml.name}\n--- expected\n{want}--- got\n{got}")
                failures += 1
            else:
                print(f"ok   {eml.name}: {got.splitlines()[0]}")
    if not emls:
        print("no fixtures found")
        return 1
    print(f"{len(emls) - failures}/{len(emls)} verdicts as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

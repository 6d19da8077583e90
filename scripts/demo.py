#!/usr/bin/env python3
"""mailwarden demo: both daemons in front of a private Postfix instance on loopback.

Started by scripts/demo.sh (which checks the prerequisites).  Everything runs from one run
directory (default /tmp/mailwarden-demo): mailwarden.yaml (the shape of conf/mailwarden.yaml,
rules from the repository's rules/ (default, antivirus, forwarding, accounts) plus a demo
blocklist), demo virus signatures (EICAR and ClamAV's clam.exe test file: the real ones come
from freshclam, which needs the internet), the decision log, the
Postfix instance (config, queue, maillog) and the smtp-sink next hop that "delivers" mail.
Prints commands to paste into another terminal, then waits; Ctrl-C stops all of it (the run
directory stays, for reading the logs).  --check runs the same scenarios itself and
exits 0 if each got the expected answer.

The machinery is tests/integration/mwlab.py, the integration-test harness.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "tests" / "integration"))
import mwlab  # noqa: E402

INTERNAL = "bacgiang.gov.vn"                  # as in conf/mailwarden.yaml
CLEAN_FROM = f"alice@{INTERNAL}"
RCPT = "bob@example.com"
BLOCKED = "blocked@example.net"
DEMO_RULES = [mwlab.sender_blocklist_rule([BLOCKED, "@spam.example"],
                                          rule_id="demo-sender-blocklist")]
BIG_SIZE = 20 * 1024 * 1024    # 20 MiB -> ~28 MB base64 on the wire: over the 25MiB rule
DECLARED_SIZE = 30_000_000
# Forwarding (REGULATIONS.md M4): a virtual alias of an internal mailbox to a Gmail address,
# caught by the egress listener; and what Gmail's forwarding stamps on mail it forwards in.
FORWARDING_ALIAS = f"alice.fwd@{INTERNAL}"
FORWARDING_TARGET = "alice.home@gmail.com"
GMAIL_FORWARDER = f"bob+caf_=alice={INTERNAL}@gmail.com"
GMAIL_HEADERS = [("X-Forwarded-To", f"alice@{INTERNAL}"),
                 ("X-Forwarded-For", f"bob@gmail.com alice@{INTERNAL}")]
# Account rules (REGULATIONS.md A1-A5), answered by mailwarden-policyd from its SQLite
# directory: a suspended account and a full mailbox, imported at start (demo_accounts()).
SUSPENDED = f"chi.tran@{INTERNAL}"
SUSPENSION_REASON = "password leaked, call the helpdesk"
FULL_MAILBOX = f"dung.le@{INTERNAL}"
CONTACT = f"helpdesk@{INTERNAL}"
# Real executables inside containers, from Debian's clamav-testfiles.
CLAM_EXE = "/usr/share/clamav-testfiles/clam.exe"
CLAM_ZIP = "/usr/share/clamav-testfiles/clam.zip"
# The EICAR anti-virus test file, assembled here so that this script is not one itself.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# Classified documents (REGULATIONS.md M7): an official letter whose header table carries
# the stamp "TỐI MẬT", as Word writes it (demo_classified_docx()).
CLASSIFIED_DOCX = "cong-van-toi-mat.docx"
# Spam (REGULATIONS.md M5): advertising from outside, scored by the shipped rules
# (rules/spam.yaml, spam-rules.yaml) and tagged; the classifier is not trained in the demo.
AD_SENDER = "promo@deals.example"
AD_MESSAGE = "khuyen-mai.eml"
AD_TEXT = (f"From: \"Khuyen Mai\" <{AD_SENDER}>\r\nTo: alice@{INTERNAL}\r\n"
           "Subject: =?utf-8?b?S0hVWeG6vk4gTcODSSBM4buaTiAtIFRSw5pORyBUSMav4bueTkcgTkdBWQ==?=\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n"
           "Chúc mừng quý khách đã trúng thưởng chương trình khuyến mãi giảm giá 50%!\r\n"
           "Nhấn vào đây để nhận quà ngay: http://bit.ly/qua-tang-2026\r\n"
           "Cơ hội có một không hai, số lượng có hạn, đăng ký ngay hôm nay.\r\n")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def demo_classified_docx(path: Path) -> None:
    """A small Word document: a letterhead table with the stamp in a cell, then prose."""
    import zipfile
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

    def para(text: str) -> str:
        return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    body = ("<w:tbl><w:tr><w:tc>" + para("UBND TỈNH BẮC GIANG") + "</w:tc><w:tc>"
            + para("TỐI MẬT") + "</w:tc></w:tr></w:tbl>"
            + para("Kính gửi: Các sở, ban, ngành")
            + para("Đề nghị các đơn vị triển khai thực hiện kế hoạch số 12/KH-UBND."))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Override PartName="/word/document.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.'
                   'wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml",
                   f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}><w:body>{body}'
                   "</w:body></w:document>")


def pick_port(wanted: int) -> int:
    return wanted if mwlab.port_is_free(wanted) else mwlab.free_port()


def prepare_run_dir(run_dir: Path) -> None:
    if run_dir.exists():
        alive = mwlab.lab_owner_alive(run_dir)
        if alive:
            owner = (run_dir / "owner").read_text().split()[0]
            sys.exit(f"demo: already running from {run_dir} (pid {owner}); stop it with "
                     f"Ctrl-C in its terminal or `kill {owner}`")
        mwlab.stop_lab_dir(run_dir)     # leftovers of a demo that was killed
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)


def write_signatures(directory: Path) -> None:
    """Demo signatures: EICAR (.ndb) and clam.exe (sigtool --md5, .hdb)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "demo-eicar.ndb").write_text(f"Demo-Eicar:0:*:{EICAR.hex()}\n")
    md5 = subprocess.run(["sigtool", "--md5", CLAM_EXE], capture_output=True, check=True,
                         timeout=30).stdout.decode().split(":")
    (directory / "demo-clam.hdb").write_text(f"{md5[0]}:{md5[1]}:Demo-Clam-Exe\n")


def make_lab(args) -> mwlab.Lab:
    signatures = args.run_dir / "signatures"
    write_signatures(signatures)
    return mwlab.Lab(
        milter=True, policyd=True, postfix=True, single_config=True,
        rule_files=[str(REPO / "rules" / "default.yaml"), str(REPO / "rules" / "antivirus.yaml"),
                    str(REPO / "rules" / "forwarding.yaml"), str(REPO / "rules" / "accounts.yaml"),
                    str(REPO / "rules" / "spam.yaml"), "rules.yaml"], rules=DEMO_RULES,
        egress=True,
        config={"domains": {"internal": [INTERNAL], "state": ["gov.vn"],
                            "public_providers": str(REPO / "rules" / "public-providers.yaml")},
                "milter": {"shutdown_timeout": "5s"},
                "antivirus": {"database": str(signatures)},
                "accounts": {"database": f"sqlite:{args.run_dir / 'accounts.db'}",
                             "contact": CONTACT}},
        smtpd_port=pick_port(args.smtpd_port), sink_port=pick_port(args.sink_port),
        milter_port=pick_port(args.milter_port), policyd_port=pick_port(args.policyd_port),
        root=args.run_dir, name="demo")


def demo_accounts(lab: mwlab.Lab) -> None:
    """Imports the demo's accounts with the real admin command (docs/accounts.md)."""
    csv = lab.dir / "accounts.csv"
    csv.write_text(
        "address,state,state_reason,quota,usage_bytes,last_login_at\n"
        f"{SUSPENDED},suspended,\"{SUSPENSION_REASON}\",,,{time.strftime('%Y-%m-%d')}\n"
        f"{FULL_MAILBOX},active,,1MiB,1100000,{time.strftime('%Y-%m-%d')}\n")
    r = lab.policyd.run_tool("accounts", "import", str(csv))
    if r.returncode != 0:
        raise mwlab.LabError(f"accounts import {csv}:\n{r.stdout}{r.stderr}")


def write_big_file(path: Path) -> None:
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(BIG_SIZE // len(block)):
            f.write(block)


def commands(lab: mwlab.Lab, big: Path) -> list[tuple[str, str]]:
    server = f"--server 127.0.0.1:{lab.port}"
    size_probe = (f'import smtplib; s = smtplib.SMTP("127.0.0.1", {lab.port}); s.ehlo(); '
                  f'print(s.mail("{CLEAN_FROM}", ["SIZE={DECLARED_SIZE}"]))')
    return [
        ("a clean message -> 250 2.0.0 Ok: queued as ...",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT}"),
        ("an oversize message (20 MiB attachment, ~28 MB on the wire, rule message-size "
         "25MiB) -> 552 5.3.4 after the data",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT} --attach @{big} --suppress-data"),
        ("the same refused at MAIL FROM from its declared SIZE= (swaks cannot send SIZE=) "
         "-> (552, b'5.3.4 ...')",
         f"python3 -c {shlex.quote(size_probe)}"),
        ("a blocklisted sender -> 550 5.7.1 at RCPT TO",
         f"swaks {server} --from {BLOCKED} --to {RCPT}"),
        ("an executable inside a zip (ClamAV's test file) -> 550 5.7.1 naming clam.exe and "
         "its part path",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT} --attach @{CLAM_ZIP}"),
        ("the same executable renamed invoice.pdf -> 550 5.7.1 (content is pe)",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT} --attach-type application/pdf "
         f"--attach-name invoice.pdf --attach @{CLAM_EXE}"),
        ("the EICAR anti-virus test file -> 550 5.7.1 virus found: Demo-Eicar.UNOFFICIAL",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT} --attach-name eicar.txt "
         f"--attach @{lab.dir / 'eicar.txt'}"),
        ("mail Gmail forwarded automatically into an internal mailbox -> 550 5.7.1 "
         "(rule auto-forward-in)",
         f"swaks {server} --from '{GMAIL_FORWARDER}' --to alice@{INTERNAL} "
         + " ".join(f"--add-header '{n}: {v}'" for n, v in GMAIL_HEADERS)),
        (f"mail to {FORWARDING_ALIAS}, a virtual alias of {FORWARDING_TARGET} -> 250 queued; "
         "the egress listener refuses the forwarded copy (550 5.7.1, rule auto-forward-out, "
         "in the Postfix log) and Postfix bounces it to the sender",
         f"swaks {server} --from {RCPT} --to {FORWARDING_ALIAS}"),
        (f"a suspended account sending -> 550 5.7.1 at RCPT TO, with the reason and {CONTACT}",
         f"swaks {server} --from {SUSPENDED} --to {RCPT}"),
        ("a recipient whose mailbox is full (1 MiB quota, 1,100,000 bytes used) -> 552 5.2.2 "
         "mailbox full",
         f"swaks {server} --from {RCPT} --to {FULL_MAILBOX}"),
        ("a Word document stamped TỐI MẬT -> 250 queued, but held in Postfix's hold queue "
         "(postqueue -p marks it '!'), with an alert in the decision log (rule "
         "classified-document)",
         f"swaks {server} --from {CLEAN_FROM} --to {RCPT} --attach-type {DOCX_TYPE} "
         f"--attach-name {CLASSIFIED_DOCX} --attach @{lab.dir / CLASSIFIED_DOCX}"),
        ("advertising from outside (\"KHUYẾN MÃI ... TRÚNG THƯỞNG\") -> 250 queued, delivered "
         "with X-Spam-Flag: YES and X-Spam-Status naming the signals (rule spam)",
         f"swaks {server} --from {AD_SENDER} --to alice@{INTERNAL} "
         f"--data @{lab.dir / AD_MESSAGE}"),
    ]


def banner(lab: mwlab.Lab, big: Path) -> str:
    d = lab.dir
    lines = [
        "",
        f"mailwarden demo is running (run directory {d})",
        "",
        f"  Postfix, private instance   smtpd 127.0.0.1:{lab.port} -> smtp-sink "
        f"127.0.0.1:{lab.sink.port} (messages land in {lab.sink.dump_dir}/)",
        f"  mailwarden-milter           {lab.milter.spec}  (smtpd_milters, non_smtpd_milters)",
        f"  mailwarden-policyd          {lab.policyd.spec}  (check_policy_service at RCPT "
        "and end of data)",
        f"  egress listener             smtpd 127.0.0.1:{lab.ports['egress_smtpd']} -> "
        f"{lab.milter.egress_spec}  (conf/postfix-egress.cf)",
        f"  configuration               {lab.milter_config_path}",
        f"  rules                       {REPO / 'rules' / 'default.yaml'}, antivirus.yaml, "
        f"forwarding.yaml, accounts.yaml + {lab.rules_path}",
        f"  virus signatures (demo)     {lab.dir / 'signatures'}",
        f"  decision log                {lab.milter_log_path}",
        f"  account directory           {lab.dir / 'accounts.db'}  (mailwarden-policyd "
        f"--config {lab.milter_config_path} accounts list)",
        f"  Postfix log                 {lab.postfix.maillog}",
        "",
        "Paste into another terminal:",
        "",
    ]
    for n, (what, cmd) in enumerate(commands(lab, big), 1):
        lines += [f"  # {n}. {what}", f"  {cmd}", ""]
    lines += [
        "  # the decisions, one JSON object per line:",
        f"  tail -f {lab.milter_log_path}",
        "",
        "  # local submission goes through the milter too (non_smtpd_milters):",
        f"  printf 'Subject: hi\\n\\nhello\\n' | sendmail -C {lab.postfix.conf_dir} "
        f"-f {CLEAN_FROM} {RCPT}",
        "",
        "Ctrl-C stops everything this demo started.",
        "",
    ]
    return "\n".join(lines)


def self_check(lab: mwlab.Lab, big: Path) -> bool:
    """The scenarios of the banner, run here: True if each got the expected answer."""
    checks = []
    r = lab.send(CLEAN_FROM, RCPT)
    checks.append(("clean message accepted", r.accepted, r))
    r = lab.send(CLEAN_FROM, RCPT, attach=[big])
    checks.append(("oversize refused 552 5.3.4 at end of data",
                   r.stage == "dot" and r.reply and (r.reply.code, r.reply.enhanced)
                   == (552, "5.3.4"), r))
    reply = lab.mail_from_probe(CLEAN_FROM, DECLARED_SIZE)
    checks.append(("SIZE= over the limit refused 552 5.3.4 at MAIL FROM",
                   (reply.code, reply.enhanced) == (552, "5.3.4"), reply))
    r = lab.send(BLOCKED, RCPT)
    checks.append(("blocklisted sender refused 5.7.1 at RCPT",
                   r.stage == "rcpt" and r.reply and r.reply.enhanced == "5.7.1", r))
    r = lab.send(CLEAN_FROM, RCPT, attach=[Path(CLAM_ZIP)])
    checks.append(("executable in a zip refused 550 5.7.1",
                   r.stage == "dot" and r.reply and r.reply.code == 550
                   and "clam.exe" in r.reply.text, r))
    r = lab.send(CLEAN_FROM, RCPT, attach=[("invoice.pdf", Path(CLAM_EXE), "application/pdf")])
    checks.append(("renamed executable refused 550 5.7.1",
                   r.stage == "dot" and r.reply and r.reply.code == 550
                   and "content is pe" in r.reply.text, r))
    r = lab.send(CLEAN_FROM, RCPT, attach=[("eicar.txt", lab.dir / "eicar.txt", "text/plain")])
    checks.append(("EICAR refused 550 5.7.1 as a virus",
                   r.stage == "dot" and r.reply and r.reply.code == 550
                   and "virus found: Demo-Eicar" in r.reply.text, r))
    r = lab.send(GMAIL_FORWARDER, f"alice@{INTERNAL}", headers=[f"{n}: {v}" for n, v in GMAIL_HEADERS])
    checks.append(("mail forwarded in by Gmail refused 550 5.7.1 (auto-forward-in)",
                   r.stage == "dot" and r.reply and r.reply.code == 550
                   and "auto-forward-in" in r.reply.text, r))
    r = lab.send(RCPT, FORWARDING_ALIAS)
    refused = None
    if r.accepted:
        try:
            refused = lab.wait_for_decision(
                lambda e: mwlab.field_of(e, "mailwarden.role") == "egress"
                and mwlab.field_of(e, "rule.id") == "auto-forward-out"
                and FORWARDING_TARGET in mwlab.field_of(e, "mailwarden.reply", ""),
                daemon="milter")
        except AssertionError:
            refused = None
    checks.append(("virtual alias to Gmail refused at the egress listener (auto-forward-out)",
                   refused is not None,
                   mwlab.field_of(refused, "mailwarden.reply", "no egress refusal")
                   if refused else r))
    r = lab.send(SUSPENDED, RCPT)
    checks.append(("suspended sender refused 550 5.7.1 (account-state)",
                   r.stage == "rcpt" and r.reply and (r.reply.code, r.reply.enhanced)
                   == (550, "5.7.1") and SUSPENSION_REASON in r.reply.text, r))
    r = lab.send(RCPT, FULL_MAILBOX)
    checks.append(("full mailbox refused 552 5.2.2 (mailbox-quota)",
                   r.stage == "rcpt" and r.reply and (r.reply.code, r.reply.enhanced)
                   == (552, "5.2.2"), r))
    r = lab.send(CLEAN_FROM, RCPT, attach=[(CLASSIFIED_DOCX, lab.dir / CLASSIFIED_DOCX, DOCX_TYPE)])
    held = None
    if r.accepted:
        try:
            held = lab.wait_for_decision(
                lambda e: mwlab.field_of(e, "rule.id") == "classified-document"
                and mwlab.field_of(e, "event.action") == "quarantine"
                and mwlab.field_of(e, "event.kind") == "alert", daemon="milter")
        except AssertionError:
            held = None
    checks.append(("document stamped TỐI MẬT held in the hold queue (classified-document)",
                   held is not None and any(q.get("queue_name") == "hold"
                                            for q in lab.queue_json()),
                   mwlab.field_of(held, "event.reason", "no quarantine decision")
                   if held else r))
    r = lab.send(AD_SENDER, f"alice@{INTERNAL}", data_file=lab.dir / AD_MESSAGE)
    tagged = None
    if r.accepted:
        try:
            tagged = lab.sink.wait_for(lambda m: m.token == r.token)
        except Exception:  # noqa: BLE001 - reported as a failed check below
            tagged = None
    checks.append(("advertising delivered tagged X-Spam-Flag: YES (spam)",
                   tagged is not None and tagged.message.get("X-Spam-Flag") == "YES",
                   f"X-Spam-Status: {tagged.message.get('X-Spam-Status')}" if tagged else r))
    ok = True
    for what, passed, detail in checks:
        reply = detail.reply if isinstance(detail, mwlab.SendResult) else detail
        print(f"  {'ok  ' if passed else 'FAIL'}  {what}: {str(reply).splitlines()[-1:]}")
        ok = ok and bool(passed)
    print(f"  {len(lab.decisions())} decision lines in {lab.milter_log_path}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, default=Path("/tmp/mailwarden-demo"))
    ap.add_argument("--smtpd-port", type=int, default=2525)
    ap.add_argument("--sink-port", type=int, default=2526)
    ap.add_argument("--milter-port", type=int, default=8891)
    ap.add_argument("--policyd-port", type=int, default=10040)
    ap.add_argument("--check", action="store_true",
                    help="run the demo scenarios, report, stop (exit 0 if all as expected)")
    args = ap.parse_args()
    args.run_dir = args.run_dir.resolve()
    # Ctrl-C -> KeyboardInterrupt even if our parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    for binary in (mwlab.milter_bin(), mwlab.policyd_bin()):
        if not binary.exists():
            print(f"demo: {binary} is missing; build first: scripts/build.sh", file=sys.stderr)
            return 1
    prepare_run_dir(args.run_dir)
    lab = make_lab(args)
    try:
        print("demo: starting mailwarden-milter, mailwarden-policyd, smtp-sink and Postfix ...",
              flush=True)
        lab.start()
        lab.postfix.set_virtual_aliases({FORWARDING_ALIAS: FORWARDING_TARGET})
        demo_accounts(lab)
        big = lab.dir / "big-attachment.bin"
        write_big_file(big)
        (lab.dir / "eicar.txt").write_bytes(EICAR)
        demo_classified_docx(lab.dir / CLASSIFIED_DOCX)
        (lab.dir / AD_MESSAGE).write_bytes(AD_TEXT.encode("utf-8"))
        if args.check:
            return 0 if self_check(lab, big) else 1
        print(banner(lab, big), flush=True)
        while True:
            for d in (lab.milter, lab.policyd):
                if not d.running:
                    print(f"demo: {d.name} exited with status {d.returncode}; stderr:\n"
                          f"{mwlab.tail(d.stderr_text())}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\ndemo: stopping ...", flush=True)
        return 0
    except mwlab.LabError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not cut teardown
        lab.close()
        print(f"demo: stopped; logs kept in {args.run_dir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

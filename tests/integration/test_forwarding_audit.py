#!/usr/bin/env python3
"""`mailwarden forwarding-audit` against a real Postfix configuration directory: main.cf with
alias_maps / virtual_alias_maps, hash tables built by postmap/postalias, a regexp table that
cannot be listed, .forward files under a --home-root, Sieve scripts (live, commented-out,
garbage) and an LDIF export. Asserts on the JSON lines and the exit status (0 clean,
1 violations, 2 could not run). Needs postconf/postmap/postalias, not a running Postfix.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.dont_write_bytecode = True

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MW_MAILWARDEN_BIN") or REPO_ROOT / "build/audit/mailwarden")
POSTMAP = shutil.which("postmap", path="/usr/sbin:/usr/bin")
POSTALIAS = shutil.which("postalias", path="/usr/sbin:/usr/bin")
ORG = "bacgiang.gov.vn"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


class Site:
    """A throw-away Postfix config directory, homes, Sieve scripts and a mailwarden config."""

    def __init__(self, root: Path, virtual: str, aliases: str, regexp: str = ""):
        self.root = root
        self.postfix = root / "postfix"
        self.homes = root / "home"
        virtual_maps = f"hash:{self.postfix}/virtual"
        if regexp:
            write(self.postfix / "virtual.re", regexp)
            virtual_maps += f", regexp:{self.postfix}/virtual.re"
        write(self.postfix / "main.cf", f"""\
            compatibility_level = 3.6
            myorigin = {ORG}
            mydestination = $myorigin, localhost
            alias_maps = hash:{self.postfix}/aliases
            alias_database = hash:{self.postfix}/aliases
            virtual_alias_maps = {virtual_maps}
            """)
        write(self.postfix / "master.cf", "")
        write(self.postfix / "virtual", virtual)
        write(self.postfix / "aliases", aliases)
        subprocess.run([POSTMAP, "-c", str(self.postfix), f"hash:{self.postfix}/virtual"], check=True)
        subprocess.run([POSTALIAS, "-c", str(self.postfix), f"hash:{self.postfix}/aliases"],
                       check=True)
        self.homes.mkdir(parents=True, exist_ok=True)
        self.config = write(root / "mailwarden.yaml", f"""\
            version: 1
            rule_files: []
            domains:
              internal: [{ORG}]
              state: [gov.vn]
              public_providers: [gmail.com, googlemail.com, yahoo.*, hotmail.com, mail.ru]
            """)

    def home(self, user: str) -> Path:
        d = self.homes / user
        d.mkdir(parents=True, exist_ok=True)
        return d

    def audit(self, *args: str, stdin: str = "") -> tuple[int, list[dict], str]:
        cmd = [str(BIN), "forwarding-audit", "--config", str(self.config),
               "--postfix-config", str(self.postfix), "--home-root", str(self.homes), *args]
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
        lines = [json.loads(line) for line in p.stdout.splitlines()]
        return p.returncode, lines, p.stderr


def events(lines: list[dict], kind: str) -> list[dict]:
    return [e for e in lines if e["event"] == kind]


def violations(lines: list[dict]) -> set[tuple]:
    return {(e["source"], e["mailbox"], e["target"]) for e in events(lines, "forwarding")
            if not e["allowed"]}


@unittest.skipUnless(POSTMAP and POSTALIAS, "postmap/postalias not installed")
class ForwardingAuditTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not BIN.exists():
            raise unittest.SkipTest(f"{BIN} not built")
        cls.tmp = Path(tempfile.mkdtemp(prefix="mw-fwd-audit-"))
        site = cls.site = Site(
            cls.tmp / "leaky",
            virtual=f"""\
                alice@{ORG}     alice@gmail.com, alice.local@{ORG}
                group@{ORG}     carol@{ORG}
                partner@{ORG}   someone@hanoi.gov.vn
                @old.{ORG}      catchall@yahoo.com
                """,
            aliases="""\
                carol: dave
                dave: dave@mail.ru
                ops: "|/usr/local/bin/ticket", /var/log/ops.mbox
                """,
            regexp=f"/^erin@{ORG.replace('.', chr(92) + '.')}$/  erin@hotmail.com\n")
        write(site.home("frank") / ".forward", """\
            # frank@yahoo.com  (commented out: not live)
            frank@gmail.com, "|/usr/bin/procmail -f-"
            \\frank
            """)
        write(site.home("grace") / ".forward", f"grace@so-noi-vu.{ORG}\n")  # internal: fine
        os.mkfifo(site.home("heidi") / ".forward")  # must never hang the audit
        sieve = write(site.home("ivan") / "sieve" / "main.sieve", """\
            require ["copy", "fileinto"];
            # redirect "commented@gmail.com";
            /* redirect "block@gmail.com";
               redirect "block2@gmail.com"; */
            if header :contains "subject" "redirect \\"s@gmail.com\\";" { fileinto "x"; }
            if address :is "from" "boss@bacgiang.gov.vn" {
              redirect :copy "ivan.home@yahoo.com.vn";
            }
            redirect text:
            ivan@xaydung.gov.vn
            .
            ;
            """)
        (site.home("ivan") / ".dovecot.sieve").symlink_to(sieve)
        cls.garbage = site.root / "garbage.sieve"
        cls.garbage.write_bytes(bytes(range(256)) * 4 + b'redirect "late@gmail.com";')
        mallory = base64.b64encode(b"mallory@gmail.com").decode()
        cls.ldif = write(site.root / "users.ldif", f"""\
            version: 1

            # alice, people, {ORG}
            dn: uid=judy,ou=people,dc=bacgiang,dc=gov,dc=vn
            mail: judy@{ORG}
            zimbraPrefMailForwardingAddress: judy@gmail.com,judy@{ORG}

            dn: uid=mallory,ou=people,dc=bacgiang,dc=gov,dc=vn
            mail: mallory@{ORG}
            mailForwardingAddress:: {mallory[:8]}
             {mallory[8:]}
            """)
        (cls.tmp / "addresses").write_text(f"erin@{ORG}\n# comment\n")
        cls.rc, cls.lines, cls.stderr = site.audit(
            "--sieve", str(site.homes), "--ldif", str(cls.ldif),
            "--addresses", str(cls.tmp / "addresses"))

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("MWLAB_KEEP", "") in ("", "0"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_exit_status_one_and_summary(self):
        self.assertEqual(self.rc, 1, self.stderr)
        summary = self.lines[-1]
        self.assertEqual(summary["event"], "summary")
        self.assertEqual(summary["violations"], len(events(self.lines, "forwarding")))
        self.assertEqual(summary["sources_read"]["forward_file"], 2)  # the FIFO is not read
        self.assertEqual(summary["sources_read"]["sieve"], 1)  # .dovecot.sieve is a link to it
        self.assertEqual(summary["sources_read"]["ldap"], 2)
        self.assertGreaterEqual(summary["sources_read"]["virtual_alias_maps"], 2)

    def test_virtual_alias_to_public_provider(self):
        [e] = [e for e in events(self.lines, "forwarding") if e["target"] == "alice@gmail.com"]
        self.assertEqual(e["source"], "virtual_alias_maps")
        self.assertEqual(e["location"], f"hash:{self.site.postfix}/virtual")
        self.assertEqual(e["mailbox"], f"alice@{ORG}")
        self.assertEqual(e["target_domain_kind"], "public_provider")
        self.assertEqual(e["via"], [])

    def test_catch_all_and_other_domains(self):
        self.assertIn(("virtual_alias_maps", f"@old.{ORG}", "catchall@yahoo.com"),
                      violations(self.lines))

    def test_recursive_expansion_names_the_chain(self):
        [e] = [e for e in events(self.lines, "forwarding")
               if e["mailbox"] == f"group@{ORG}"]
        self.assertEqual(e["target"], "dave@mail.ru")
        self.assertEqual(e["source"], "alias_maps")
        self.assertEqual(e["via"], [f"carol@{ORG}", "dave"])
        self.assertIn(("alias_maps", f"dave@{ORG}", "dave@mail.ru"), violations(self.lines))

    def test_state_targets_are_not_reported(self):
        targets = {e["target"] for e in events(self.lines, "forwarding")}
        for allowed in ("someone@hanoi.gov.vn", f"alice.local@{ORG}", f"grace@so-noi-vu.{ORG}",
                        "ivan@xaydung.gov.vn\n", f"judy@{ORG}"):
            self.assertNotIn(allowed, targets)

    def test_forward_file(self):
        v = [e for e in events(self.lines, "forwarding") if e["source"] == "forward_file"]
        self.assertEqual([(e["mailbox"], e["target"], e["location"]) for e in v],
                         [(f"frank@{ORG}", "frank@gmail.com",
                           f"{self.site.homes}/frank/.forward:2")])
        notices = [n["message"] for n in events(self.lines, "notice")
                   if n["source"] == "forward_file"]
        self.assertTrue(any("procmail" in n for n in notices), notices)
        self.assertTrue(any("heidi" in n["location"] and "not a regular file" in n["message"]
                            for n in events(self.lines, "notice")), self.lines)

    def test_sieve_redirects_but_not_commented_ones(self):
        v = [e for e in events(self.lines, "forwarding") if e["source"] == "sieve"]
        self.assertEqual([(e["mailbox"], e["target"], e["copy"]) for e in v],
                         [(f"ivan@{ORG}", "ivan.home@yahoo.com.vn", True)])
        self.assertTrue(v[0]["location"].endswith("/ivan/sieve/main.sieve:7"), v[0])

    def test_ldif_attributes_base64_and_folding(self):
        v = {(e["mailbox"], e["target"], e["attribute"]) for e in events(self.lines, "forwarding")
             if e["source"] == "ldap"}
        self.assertEqual(v, {(f"judy@{ORG}", "judy@gmail.com", "zimbraprefmailforwardingaddress"),
                             (f"mallory@{ORG}", "mallory@gmail.com", "mailforwardingaddress")})

    def test_unlistable_table_is_a_notice_and_known_addresses_are_asked(self):
        notices = [n for n in events(self.lines, "notice") if n["location"].startswith("regexp:")]
        self.assertEqual(len(notices), 1, self.lines)
        self.assertIn(("virtual_alias_maps", f"erin@{ORG}", "erin@hotmail.com"),
                      violations(self.lines))

    def test_alias_commands_and_files_are_notices(self):
        messages = [n["message"] for n in events(self.lines, "notice")
                    if n["source"] == "alias_maps"]
        self.assertTrue(any("/usr/local/bin/ticket" in m for m in messages), messages)
        self.assertTrue(any("/var/log/ops.mbox" in m for m in messages), messages)

    def test_garbage_sieve_is_a_notice(self):
        rc, lines, stderr = self.site.audit("--no-postfix", "--no-homes",
                                            "--sieve", str(self.garbage))
        self.assertEqual(rc, 0, stderr)
        [n] = events(lines, "notice")
        self.assertEqual(n["source"], "sieve")
        self.assertIn("not a valid Sieve script", n["message"])
        self.assertEqual(lines[-1]["violations"], 0)

    def test_all_reports_allowed_forwards(self):
        rc, lines, _ = self.site.audit("--all", "--no-homes")
        self.assertEqual(rc, 1)
        allowed = {e["target"]: e for e in events(lines, "forwarding") if e["allowed"]}
        self.assertEqual(allowed["someone@hanoi.gov.vn"]["target_domain_kind"], "state")
        self.assertEqual(allowed[f"alice.local@{ORG}"]["target_domain_kind"], "internal")
        self.assertEqual(lines[-1]["allowed"], len(allowed))

    def test_ldif_from_stdin(self):
        rc, lines, _ = self.site.audit("--no-postfix", "--no-homes", "--ldif", "-",
                                       stdin=self.ldif.read_text())
        self.assertEqual(rc, 1)
        self.assertEqual({e["target"] for e in events(lines, "forwarding")},
                         {"judy@gmail.com", "mallory@gmail.com"})

    def test_errors_exit_two(self):
        rc, lines, stderr = self.site.audit("--postfix-config", str(self.tmp / "nowhere"))
        self.assertEqual(rc, 2)
        self.assertEqual(events(lines, "error")[0]["event"], "error")
        self.assertIn("main.cf", stderr)
        rc, _, _ = self.site.audit("--no-postfix", "--ldif", str(self.tmp / "missing.ldif"))
        self.assertEqual(rc, 2)
        rc, _, _ = self.site.audit("--no-postfix", "--config", str(self.tmp / "missing.yaml"))
        self.assertEqual(rc, 2)
        rc, _, _ = self.site.audit("--no-such-option")
        self.assertEqual(rc, 2)


@unittest.skipUnless(POSTMAP and POSTALIAS, "postmap/postalias not installed")
class CleanSiteTest(unittest.TestCase):
    """Forwards only inside the state mail system: exit 0, no forwarding line."""

    def test_clean_configuration_exits_zero(self):
        if not BIN.exists():
            self.skipTest(f"{BIN} not built")
        with tempfile.TemporaryDirectory(prefix="mw-fwd-clean-") as tmp:
            site = Site(Path(tmp),
                        virtual=f"info@{ORG}  vanthu@{ORG}, lanhdao@ubnd.hanoi.gov.vn\n",
                        aliases="postmaster: root\nroot: admin\n")
            write(site.home("kim") / ".forward", f"kim@{ORG}\n\\kim\n")
            write(site.home("kim") / "sieve" / "a.sieve",
                  '# redirect "kim@gmail.com";\nredirect "kim@sotnmt.bacgiang.gov.vn";\n')
            rc, lines, stderr = site.audit()
            self.assertEqual(rc, 0, stderr + "\n".join(map(json.dumps, lines)))
            self.assertEqual(events(lines, "forwarding"), [])
            summary = lines[-1]
            self.assertEqual(summary["event"], "summary")
            self.assertEqual(summary["violations"], 0)
            self.assertEqual(summary["sources_read"]["forward_file"], 1)
            self.assertEqual(summary["sources_read"]["sieve"], 1)


if __name__ == "__main__":
    unittest.main()

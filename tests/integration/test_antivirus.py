#!/usr/bin/env python3
"""The antivirus rule through a real Postfix, scanning with the real libclamav in the milter.

ClamAV's official signatures cannot be downloaded here, so the test writes its own at start:
an .ndb signature for the EICAR test string and `sigtool --md5` of clam.exe from the
clamav-testfiles package (names from such files come back with ".UNOFFICIAL").

The documented contract (docs/configuration.md):
* a virus anywhere (attachment in base64 or quoted-printable, the text body, inside an
  archive libclamav opens, TNEF, uuencoded, an attached message) -> 550 5.7.1 "virus found:
  SIGNATURE in ... part PATH"; the decision log names the signature, the part and its SHA-256;
* clean mail -> accepted;
* new signatures (SIGHUP) take effect without a restart, while mail keeps flowing: no
  message fails during the reload; a corrupt database at reload keeps the old signatures;
* no signatures at all -> 451 4.3.0 (antivirus.on_scanner_error): the sender retries.
"""

import atexit
import base64
import binascii
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

CLAM_DIR = Path("/usr/share/clamav-testfiles")
RCPT = "rcpt@example.com"
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
EICAR_NAME = "Mw-Eicar.UNOFFICIAL"
CLAM_NAME = "Mw-Clam-Exe.UNOFFICIAL"
SECOND = b"MAILWARDEN-INTEGRATION-SECOND-SIGNATURE-0123456789"


def ndb(name: str, data: bytes) -> str:
    return f"{name}:0:*:{data.hex()}\n"


def write_database(directory: Path) -> None:
    """eicar.ndb and clam.hdb (sigtool --md5 of clam.exe, renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "eicar.ndb").write_text(ndb("Mw-Eicar", EICAR))
    exe = CLAM_DIR / "clam.exe"
    if not exe.is_file():
        raise AssertionError(f"{exe} missing: install the Debian package clamav-testfiles")
    try:
        line = subprocess.run(["sigtool", "--md5", str(exe)], capture_output=True, check=True,
                              timeout=30).stdout.decode().strip()
    except FileNotFoundError:
        raise AssertionError("sigtool missing: install the Debian package clamav "
                             "(scripts/install-deps.sh)") from None
    md5, size, _ = line.split(":", 2)
    (directory / "clam.hdb").write_text(f"{md5}:{size}:Mw-Clam-Exe\n")


def signature_dir(prefix: str) -> Path:
    """A directory the milter can read, removed when the tests end."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


DB_DIR = signature_dir("mw-av-db-")
write_database(DB_DIR)


class AntivirusTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=True, policyd=False,
                       rules=[{"id": "antivirus", "check": "antivirus", "action": "reject"}],
                       milter_config={"antivirus": {"database": str(DB_DIR), "self_check": "0s"}})

    def send(self, tag: str, **kw) -> tuple[mwlab.SendResult, str]:
        sender = self.lab.address(tag)
        return self.lab.send(sender, RCPT, **kw), sender

    def assertVirus(self, tag: str, signature: str, part: str | None = None, **kw) -> dict:
        result, sender = self.send(tag, **kw)
        self.assertReply(result, 550, "5.7.1", stage="dot", text_contains=f"virus found: {signature}")
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "reject", entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "antivirus", entry)
        evidence = mwlab.field_of(entry, "mailwarden.findings")[0]["evidence"]
        self.assertEqual(evidence["signature"], signature, entry)
        self.assertEqual(len(evidence["sha256"]), 64, entry)
        if part is not None:
            self.assertEqual(evidence["part"], part, entry)
        return entry

    def file(self, name: str) -> Path:
        path = CLAM_DIR / name
        self.assertTrue(path.is_file(), f"{path} missing: install clamav-testfiles")
        return path

    def test_eicar_attachment(self):
        path = self.lab.dir / "eicar.com.txt"
        path.write_bytes(EICAR)
        self.assertVirus("eicar-att", EICAR_NAME, attach=[("eicar.com.txt", path, "text/plain")])

    def test_eicar_in_the_body(self):
        self.assertVirus("eicar-body", EICAR_NAME, body=EICAR.decode() + "\n")

    def test_eicar_quoted_printable(self):
        raw = (b"From: a@example.net\r\nTo: rcpt@example.com\r\nSubject: qp\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
               b"--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
               b"--B\r\nContent-Type: application/octet-stream; name=e.txt\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               + EICAR.replace(b"=", b"=3D") + b"\r\n--B--\r\n")
        data = self.lab.dir / "qp.eml"
        data.write_bytes(raw)
        self.assertVirus("eicar-qp", EICAR_NAME, part="1/2", data_file=data)

    def test_eicar_inside_an_attached_message(self):
        inner = (b"From: b@example.net\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: application/octet-stream; name=e.bin\r\n"
                 b"Content-Transfer-Encoding: base64\r\n\r\n"
                 + base64.encodebytes(EICAR).replace(b"\n", b"\r\n"))
        raw = (b"From: a@example.net\r\nTo: rcpt@example.com\r\nSubject: fwd\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
               b"--B\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n"
               b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--B--\r\n")
        data = self.lab.dir / "nested.eml"
        data.write_bytes(raw)
        self.assertVirus("eicar-nested", EICAR_NAME, data_file=data)

    def test_clam_exe_in_every_container(self):
        for name in ("clam.zip", "clam.7z", "clam.cab", "clam.tar.gz", "clam.tnef",
                     "clam.exe"):
            with self.subTest(container=name):
                self.assertVirus("clam-" + name.replace(".", "-"), CLAM_NAME,
                                 attach=[(name, self.file(name), "application/octet-stream")])

    def test_clam_exe_uuencoded_in_the_body(self):
        exe = self.file("clam.exe").read_bytes()
        lines = ["begin 644 clam.exe"]
        lines += [binascii.b2a_uu(exe[i:i + 45]).decode().rstrip("\n")
                  for i in range(0, len(exe), 45)]
        lines += ["`", "end", ""]
        self.assertVirus("clam-uu", CLAM_NAME, body="\n".join(lines))

    def test_clean_mail_passes(self):
        path = self.lab.dir / "report.txt"
        path.write_text("Báo cáo tháng 11\n" * 200)
        result, sender = self.send("clean", attach=[("report.txt", path, "text/plain")])
        self.assertReply(result, 250, "2.0.0", stage="dot")
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept", entry)

    def test_z_reload_while_mail_flows_then_a_corrupt_database_keeps_the_old(self):
        # Mail keeps flowing while the signatures are reloaded: every message gets its
        # verdict (EICAR refused, clean accepted), none is tempfailed.
        path = self.lab.dir / "eicar2.txt"
        path.write_bytes(EICAR)
        failures: list[str] = []
        stop = threading.Event()

        def sender_loop(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                result, _ = self.send(f"flow{n}-{i}",
                                      attach=[("e.txt", path, "text/plain")])
                if result.reply is None or result.reply.code != 550:
                    failures.append(str(result))
        threads = [threading.Thread(target=sender_loop, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        since = self.lab.milter.stderr_offset()
        second = self.lab.dir / "second.txt"
        second.write_bytes(SECOND)
        try:
            result, _ = self.send("before-second", attach=[("s.txt", second, "text/plain")])
            self.assertReply(result, 250, "2.0.0", stage="dot")
            (DB_DIR / "second.ndb").write_text(ndb("Mw-Second", SECOND))
            self.lab.milter.reload()
            self.lab.milter.wait_for_stderr(r"virus signatures loaded \(reload\): 3 ", since=since)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertVirus("after-second", "Mw-Second.UNOFFICIAL",
                         attach=[("s.txt", second, "text/plain")])

        since = self.lab.milter.stderr_offset()
        (DB_DIR / "broken.ndb").write_text("not a signature\n")
        try:
            self.lab.milter.reload()
            self.lab.milter.wait_for_stderr("signatures loaded before stay in force", since=since)
            self.assertVirus("after-broken", "Mw-Second.UNOFFICIAL",
                             attach=[("s.txt", second, "text/plain")])
            self.assertVirus("after-broken-eicar", EICAR_NAME,
                             attach=[("e.txt", path, "text/plain")])
        finally:
            (DB_DIR / "broken.ndb").unlink()


class Clamd:
    """A real clamd on a unix socket, reading DB_DIR (Debian package clamav-daemon)."""

    def __init__(self, directory: Path, tcp_port: int | None = None):
        self.dir = directory
        self.socket = directory / "clamd.sock"
        self.conf = directory / "clamd.conf"
        tcp = f"TCPSocket {tcp_port}\nTCPAddr 127.0.0.1\n" if tcp_port else ""
        self.conf.write_text(f"LocalSocket {self.socket}\n{tcp}DatabaseDirectory {DB_DIR}\n"
                             f"Foreground yes\nLogFile {directory / 'clamd.log'}\n"
                             f"PidFile {directory / 'clamd.pid'}\nIdleTimeout 30\n"
                             "StreamMaxLength 1M\nSelfCheck 0\n")
        self.proc: mwlab.ManagedProcess | None = None

    def start(self) -> None:
        binary = shutil.which("clamd", path="/usr/sbin:/usr/bin")
        if binary is None:
            raise AssertionError("clamd missing: install the Debian package clamav-daemon "
                                 "(scripts/install-deps.sh)")
        self.proc = mwlab.ManagedProcess([binary, "-c", self.conf],
                                         stderr=self.dir / "clamd.err")
        mwlab.wait_until(lambda: self.socket.exists() or not self.proc.running, 30,
                         what="clamd to listen")
        if not self.proc.running:
            raise AssertionError("clamd exited: " + mwlab.read_text(self.dir / "clamd.log"))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate(10)
            self.proc = None


class ClamdModeTest(mwlab.LabTestCase, unittest.TestCase):
    """antivirus.mode: clamd, against a real clamd the test starts on a unix socket."""

    CLAMD = Clamd(signature_dir("mw-clamd-"))
    LAB_OPTIONS = dict(milter=True, policyd=False,
                       rules=[{"id": "antivirus", "check": "antivirus", "action": "reject"}],
                       milter_config={"antivirus": {"mode": "clamd",
                                                    "clamd_socket": f"unix:{CLAMD.socket}",
                                                    "clamd_timeout": "10s"}})

    @classmethod
    def setUpClass(cls) -> None:
        cls.CLAMD.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls.CLAMD.stop()

    def send_file(self, tag: str, name: str, data: bytes) -> tuple[mwlab.SendResult, str]:
        path = self.lab.dir / name
        path.write_bytes(data)
        sender = self.lab.address(tag)
        return self.lab.send(sender, RCPT, attach=[(name, path, "application/octet-stream")]), sender

    def test_viruses_refused_clean_mail_passes(self):
        for i in range(3):    # the later scans reuse pooled clamd sessions
            result, sender = self.send_file(f"clamd-eicar{i}", "e.txt", EICAR)
            self.assertReply(result, 550, "5.7.1", stage="dot",
                             text_contains=f"virus found: {EICAR_NAME}")
        result, _ = self.send_file("clamd-zip", "clam.zip", (CLAM_DIR / "clam.zip").read_bytes())
        self.assertReply(result, 550, "5.7.1", stage="dot", text_contains=CLAM_NAME)
        result, sender = self.send_file("clamd-clean", "a.txt", b"nothing to see\n" * 100)
        self.assertReply(result, 250, "2.0.0", stage="dot")

    def test_part_beyond_stream_max_length_is_a_scan_limit(self):
        result, _ = self.send_file("clamd-big", "big.bin", os.urandom(1_300_000))
        self.assertReply(result, 550, "5.7.1", stage="dot",
                         text_contains="limit clamd StreamMaxLength")

    def test_z_clamd_down_tempfails_and_recovers(self):
        self.CLAMD.stop()
        try:
            result, _ = self.send_file("clamd-down", "e.txt", EICAR)
            self.assertReply(result, 451, "4.3.0", stage="dot")
        finally:
            self.CLAMD.start()
        result, _ = self.send_file("clamd-back", "e.txt", EICAR)
        self.assertReply(result, 550, "5.7.1", stage="dot", text_contains=EICAR_NAME)


class ClamdOverTcpTest(ClamdModeTest):
    """The same over TCP: antivirus.clamd_socket inet:localhost:PORT (clamd's TCPSocket), the
    host name looked up by the milter within clamd_timeout."""

    PORT = mwlab.free_port()
    CLAMD = Clamd(signature_dir("mw-clamd-tcp-"), tcp_port=PORT)
    LAB_OPTIONS = dict(milter=True, policyd=False,
                       rules=[{"id": "antivirus", "check": "antivirus", "action": "reject"}],
                       milter_config={"antivirus": {"mode": "clamd",
                                                    "clamd_socket": f"inet:localhost:{PORT}",
                                                    "clamd_timeout": "10s"}})


class NoSignaturesTest(mwlab.LabTestCase, unittest.TestCase):
    """An empty signature directory: every message is tempfailed, never passed unscanned."""

    EMPTY = signature_dir("mw-av-empty-")
    LAB_OPTIONS = dict(milter=True, policyd=False,
                       rules=[{"id": "antivirus", "check": "antivirus", "action": "reject"}],
                       milter_config={"antivirus": {"database": str(EMPTY), "self_check": "0s"}})

    def test_tempfail_and_a_loud_log_line(self):
        self.lab.milter.wait_for_stderr("NO VIRUS SCANNING")
        result = self.lab.send(self.lab.address("nosig"), RCPT, body="hello\n")
        self.assertReply(result, 451, "4.3.0", stage="dot")


if __name__ == "__main__":
    unittest.main(verbosity=2)

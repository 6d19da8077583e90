#!/usr/bin/env python3
"""The milter against malformed milter traffic and abrupt disconnects, spoken directly on its
socket (no Postfix in between): whatever a broken or hostile peer sends, the daemon stays up,
frees the connection, and decides the next well-formed message normally.

"""

import json
import struct
import sys
import threading
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402


def packet(cmd: str, data: bytes = b"") -> bytes:
    return struct.pack("!I", len(data) + 1) + cmd.encode() + data


def size_lab(name: str, **milter: object) -> mwlab.Lab:
    """A milter of its own (no Postfix) with the 1 KiB size rule and `milter` settings."""
    return mwlab.Lab(milter=True, policyd=False, postfix=False, name=name,
                     rules=[mwlab.size_rule("1KiB")], config={"milter": milter})


def in_message(spec: mwlab.SocketSpec, subject: str) -> mwlab.MilterClient:
    """A client that has negotiated and is in the middle of a message (headers sent)."""
    m = mwlab.MilterClient(spec)
    m.greet()
    m.start_message("a@example.net", "b@example.com", subject)
    return m


class MilterProtocolTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=True, policyd=False, postfix=False,
                       rules=[mwlab.size_rule("1KiB")],
                       milter_config={"milter": {"verdict_header_on_accept": True}})

    def spec(self) -> mwlab.SocketSpec:
        return self.lab.milter.wait_ready()

    def full_message(self, body: bytes, sender: str = "a@example.net") -> tuple[str, bytes, list]:
        """A complete well-formed session: (final reply letter, data, modifications)."""
        with mwlab.MilterClient(self.spec()) as m:
            m.greet()
            self.assertEqual(m.start_message(sender, "b@example.com", "protocol test")[0], "c")
            m.body(body)
            m.macros("E", {"i": "PROTO1"})
            letter, data = m.eom()
            return letter, data, m.modifications

    def assert_still_serving(self):
        self.assertTrue(self.lab.milter.running, self.lab.milter.stderr_text())
        letter, _, mods = self.full_message(b"small\r\n")
        self.assertEqual(letter, "a")
        self.assertTrue(any(cmd == "h" and b"X-Mailwarden" in data for cmd, data in mods), mods)
        letter, data, _ = self.full_message(b"x" * 4000 + b"\r\n")
        self.assertEqual(letter, "y")
        self.assertTrue(data.startswith(b"552 5.3.4"), data)

    def test_well_formed_session(self):
        with mwlab.MilterClient(self.spec()) as m:
            version, actions, protocol = m.optneg()
            self.assertEqual(version, 6)
            # Only the steps it needs: no DATA or unknown-command steps, and no replies to
            # the streamed ones (connect, helo, rcpt, headers, body).
            self.assertTrue(protocol & 0x100 and protocol & 0x200, hex(protocol))
            self.assertTrue(protocol & 0x80000 and protocol & 0x80, hex(protocol))
            self.assertEqual(actions & 0x21, 0x21, hex(actions))  # add header, quarantine
            m.macros("C", mwlab.postfix_connect_macros())
            m.connect()
            m.helo()
            m.mail("a@example.net")
            m.rcpt("b@example.com")
            m.header("Subject", "x")
            m.eoh()
            m.body(b"hello\r\n")
            m.macros("E", {"i": "PROTO2"})
            letter, _ = m.eom()
            self.assertEqual(letter, "a")
        self.assert_still_serving()

    def test_garbage_bytes(self):
        mwlab.raw_exchange(self.spec(), b"\x00\x01garbage that is not a milter packet" * 50,
                           timeout=3)
        self.assert_still_serving()

    def test_huge_length_prefix(self):
        # A length of 2 GiB: the milter must refuse it, not allocate it.
        mwlab.raw_exchange(self.spec(), struct.pack("!I", 0x7FFFFFFF) + b"O" + b"\0" * 100,
                           timeout=3)
        self.assert_still_serving()

    def test_unknown_command_and_truncated_optneg(self):
        mwlab.raw_exchange(self.spec(), packet("O", b"\0\0"), timeout=3)
        mwlab.raw_exchange(self.spec(), packet("Z", b"whatever"), timeout=3)
        self.assert_still_serving()

    def test_commands_out_of_order(self):
        # Body and end of message without MAIL FROM: no message state; must not crash.
        with mwlab.MilterClient(self.spec()) as m:
            m.optneg()
            m.sock.sendall(packet("B", b"body without a message") + packet("E"))
            m.sock.settimeout(3)
            try:
                m.sock.recv(4096)
            except OSError:
                pass
        self.assert_still_serving()

    def test_missing_nul_terminators(self):
        with mwlab.MilterClient(self.spec()) as m:
            m.optneg()
            m.sock.sendall(packet("C", b"hostname-without-nul") + packet("M", b"<a@b>")
                           + packet("R", b"<c@d>"))
            m.sock.settimeout(3)
            try:
                m.sock.recv(4096)
            except OSError:
                pass
        self.assert_still_serving()

    def test_disconnect_in_the_middle_of_a_message(self):
        for cut_after in ("mail", "rcpt", "header", "body"):
            m = mwlab.MilterClient(self.spec())
            m.greet()
            m.mail("a@example.net", "SIZE=100")
            if cut_after != "mail":
                m.rcpt("b@example.com")
            if cut_after in ("header", "body"):
                m.header("Subject", "cut")
            if cut_after == "body":
                m.eoh()
                m.body(b"partial body" * 100)
            m.sock.close()   # no QUIT, no ABORT
        # The daemon freed those messages: nothing counts as in flight, so a stop is immediate.
        self.assert_still_serving()

    def test_many_abrupt_disconnects(self):
        # Bursts from several clients at once: the server grows its worker pool, then trims
        # the idle workers; serving must go on throughout.
        spec = self.spec()

        def burst() -> None:
            for _ in range(300):
                s = spec.connect(3)
                s.sendall(packet("O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))[:7])
                s.close()
        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assert_still_serving()

    def test_message_in_flight_keeps_the_rules_it_started_with(self):
        # Reload to a 1 MiB limit in the middle of a message: that message is still judged by
        # the 1 KiB rule it started under; the next message gets the new rule.
        lab = size_lab("proto-reload")
        with lab:
            spec = lab.milter.wait_ready()
            m = in_message(spec, "in flight across a reload")
            since = lab.milter.stderr_offset()
            lab.write_rules([mwlab.size_rule("1MiB")])
            lab.milter.reload()
            lab.milter.wait_for_stderr("configuration reloaded", since=since)
            m.body(b"x" * 4000 + b"\r\n")
            m.macros("E", {"i": "RELOAD1"})
            letter, data = m.eom()
            m.quit()
            self.assertEqual(letter, "y", data)
            self.assertTrue(data.startswith(b"552 5.3.4"), data)
            with mwlab.MilterClient(spec) as n:
                n.greet()
                n.start_message("a@example.net", "b@example.com", "after the reload")
                n.body(b"x" * 4000 + b"\r\n")
                n.macros("E", {"i": "RELOAD2"})
                self.assertEqual(n.eom()[0], "a")

    def test_in_flight_messages_finish_before_sigterm_exit(self):
        # A message in flight when SIGTERM arrives still gets its verdict.
        lab = size_lab("proto-term", shutdown_timeout="10s")
        with lab:
            spec = lab.milter.wait_ready()
            m = in_message(spec, "in flight")
            lab.milter.signal(15)
            lab.milter.wait_for_stderr("stopping")
            # A new session is tempfailed once stopping: the MTA keeps the mail and retries.
            with mwlab.MilterClient(spec) as late:
                late.greet()
                letter, data = late.mail("late@example.net")
                self.assertEqual(letter, "y", data)
                self.assertTrue(data.startswith(b"421 4.3.2"), data)
            m.body(b"still here\r\n")
            m.macros("E", {"i": "PROTO3"})
            letter, _ = m.eom()
            self.assertEqual(letter, "a")
            m.quit()
            self.assertEqual(lab.milter.wait(10), 0)
            entries = lab.decisions("milter")
            self.assertTrue(any(mwlab.field_of(e, "email.local_id") == "PROTO3" for e in entries),
                            entries)


class MilterServerLimitsTest(unittest.TestCase):
    """The protocol server's own limits: a silent MTA is dropped after
    milter.connection_timeout, and connections beyond milter.max_connections wait in the
    listen backlog until a served one ends, then get served."""

    def test_silent_mta_is_dropped_and_its_message_aborted(self):
        lab = size_lab("proto-timeout", connection_timeout="1s", shutdown_timeout="20s")
        with lab:
            m = in_message(lab.milter.wait_ready(), "then silence")
            m.sock.settimeout(10)
            started = time.monotonic()
            self.assertEqual(m.sock.recv(100), b"")   # the milter closed the connection
            self.assertLess(time.monotonic() - started, 8)
            lab.milter.wait_for_stderr(r"nothing from the MTA for 1 s \(milter.connection_timeout\)")
            # The aborted message no longer counts as in flight: SIGTERM exits at once.
            started = time.monotonic()
            lab.milter.signal(15)
            self.assertEqual(lab.milter.wait(15), 0)
            self.assertLess(time.monotonic() - started, 10)

    def test_connections_beyond_the_limit_wait_and_are_served_later(self):
        lab = size_lab("proto-maxconn", max_connections=2)
        with lab:
            spec = lab.milter.wait_ready()
            first, second = mwlab.MilterClient(spec), mwlab.MilterClient(spec)
            first.greet()
            second.greet()
            lab.milter.wait_for_stderr(r"milter.max_connections \(2\) connections are being served")
            third = mwlab.MilterClient(spec, timeout=1.5)
            third._send("O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))
            with self.assertRaises(TimeoutError):   # queued, not served
                third._recv()
            first.quit()
            first.sock.close()
            third.sock.settimeout(10)
            cmd, data = third._recv()               # served once a slot is free
            self.assertEqual(cmd, "O")
            _, third.actions, third.protocol = struct.unpack("!III", data[:12])
            third.macros("C", mwlab.postfix_connect_macros())
            letter, _ = third.start_message("a@example.net", "b@example.com", "late")
            self.assertEqual(letter, "c")
            third.body(b"ok\r\n")
            third.macros("E", {"i": "MAXCONN1"})
            self.assertEqual(third.eom()[0], "a")
            third.sock.close()
            second.sock.close()


class DecisionLogToStdoutTest(unittest.TestCase):
    """log.output: stdout (journald under systemd): one JSON line per decision on stdout."""

    def test_decisions_go_to_stdout(self):
        lab = mwlab.Lab(milter=True, policyd=False, postfix=False, name="log-stdout",
                        rules=[mwlab.size_rule("1KiB")],
                        config={"log": {"output": "stdout"}})
        with lab:
            spec = lab.milter.wait_ready()
            with mwlab.MilterClient(spec) as m:
                m.greet()
                letter, data = m.mail("stdout@example.net", "SIZE=5000")
                self.assertEqual(letter, "y", data)
            lines = mwlab.wait_until(lambda: lab.milter.stdout_text().splitlines(), 5)
            record = json.loads(lines[-1])
            self.assertEqual(mwlab.field_of(record, "event.action"), "reject", record)
            self.assertEqual(mwlab.field_of(record, "email.from.address"), "stdout@example.net")
            self.assertFalse(lab.milter_log_path.exists() and lab.milter_log_path.stat().st_size)


if __name__ == "__main__":
    unittest.main(verbosity=2)

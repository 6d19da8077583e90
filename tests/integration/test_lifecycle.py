#!/usr/bin/env python3
"""Both daemons' life cycle, without Postfix (README.md, "Running it"):
configuration errors at start and with --check-config (exit 1, file:line:column on stderr),
--print-defaults, SIGTERM (exit 0 within shutdown_timeout, also with a client connected),
a listening socket already in use (clear error, non-zero exit, the first instance unharmed),
--socket/--listen overriding the config, and the milter's offline --test mode.
"""

import re
import signal
import socket
import sys
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

EXIT_TIMEOUT = 10.0          # a daemon with a bad config must give up at least this fast
SHUTDOWN_TIMEOUT = 5.0       # milter.shutdown_timeout in the lab's config


class DaemonLifecycleBase:
    """Shared by both daemons; subclasses set KIND and the per-daemon specifics."""

    KIND = ""                 # "milter" | "policyd"
    SECTION = ""              # the config section holding the socket
    SOCKET_KEY = ""           # socket | listen
    SOCKET_OPTION = ""        # --socket | --listen
    BAD_LINE_NEEDLE = ""      # a line of the generated config to break
    SHORT_SHUTDOWN: dict = {}  # config overrides for a 2s shutdown timeout

    lab: mwlab.Lab

    @classmethod
    def setUpClass(cls):
        cls.lab = mwlab.Lab(milter=False, policyd=False, postfix=False,
                            name=f"lifecycle-{cls.KIND}").__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.lab.close()

    def binary(self) -> Path:
        return mwlab.milter_bin() if self.KIND == "milter" else mwlab.policyd_bin()

    def daemon(self, config=None, **kw) -> mwlab.Daemon:
        return self.lab.new_daemon(self.KIND, config, **kw)

    def inet_config(self) -> dict:
        return {self.SECTION: {self.SOCKET_KEY: f"inet:127.0.0.1:{mwlab.free_port()}"}}

    def unix_config(self, name: str) -> dict:
        return {self.SECTION: {self.SOCKET_KEY: f"unix:{self.lab.dir / name}"}}

    def assert_exits_with_error(self, d: mwlab.Daemon, pattern: str) -> None:
        d.start(wait_ready=False)
        try:
            rc = d.wait(EXIT_TIMEOUT)
        except TimeoutError:
            d.proc.kill()
            self.fail(f"{d.name} kept running with a broken config:\n{d.stderr_text()}")
        self.assertNotEqual(rc, 0, d.stderr_text())
        self.assertNotIn("ready on", d.stderr_text())
        self.assertRegex(d.stderr_text(), pattern)

    def check_config(self, config):
        d = self.daemon(config)
        return d.run_tool("--check-config")

    def works(self, d: mwlab.Daemon) -> None:
        """The daemon still does its job on its socket."""
        raise NotImplementedError

    def hold_connection(self, spec: mwlab.SocketSpec):
        """An open client connection in the middle of a session."""
        raise NotImplementedError

    # ---- configuration errors -------------------------------------------------------------

    def broken_config_text(self) -> tuple[str, int]:
        text = mwlab.to_yaml(mwlab.deep_merge(self.lab.config_dict(self.KIND),
                                              self.inet_config()))
        bad = text.replace(self.BAD_LINE_NEEDLE, self.BAD_LINE_NEEDLE + ": oops", 1)
        self.assertNotEqual(bad, text)
        return bad, mwlab.line_number(bad, "oops")

    def test_invalid_yaml_at_start_exits_nonzero_with_location(self):
        bad, line = self.broken_config_text()
        d = self.daemon(bad, filename=f"broken-{self.KIND}.yaml")
        self.assert_exits_with_error(d, mwlab.error_location(f"broken-{self.KIND}.yaml", line))

    def test_invalid_rule_file_at_start_exits_nonzero_with_location(self):
        rules = mwlab.rules_yaml(mwlab.Lab.DEFAULT_RULES).replace("max_size: 1MiB",
                                                                  "max_size: 1MiB: oops")
        (self.lab.dir / "broken-rules.yaml").write_text(rules)
        d = self.daemon({**self.inet_config(), "rule_files": ["broken-rules.yaml"]})
        self.assert_exits_with_error(d, mwlab.error_location("broken-rules.yaml",
                                                 mwlab.line_number(rules, "oops")))

    def test_missing_rule_file_at_start_exits_nonzero(self):
        d = self.daemon({**self.inet_config(), "rule_files": ["no-such-rules.yaml"]})
        self.assert_exits_with_error(d, r"no-such-rules\.yaml")

    def test_check_config_valid_exits_0(self):
        proc = self.check_config(self.inet_config())
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_check_config_does_not_bind(self):
        cfg = self.inet_config()
        port = int(cfg[self.SECTION][self.SOCKET_KEY].rsplit(":", 1)[1])
        with _Listener(port):
            proc = self.check_config(cfg)      # the port is taken: --check-config must not care
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_check_config_syntax_error_exits_1_with_location(self):
        bad, line = self.broken_config_text()
        d = self.daemon(bad, filename=f"check-{self.KIND}.yaml")
        proc = d.run_tool("--check-config")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stderr, mwlab.error_location(f"check-{self.KIND}.yaml", line))

    def test_check_config_rule_error_exits_1_with_location(self):
        rules = mwlab.rules_yaml([mwlab.size_rule("lots"),
                                  mwlab.sender_blocklist_rule(["a@example.net"])])
        (self.lab.dir / "bad-value-rules.yaml").write_text(rules)
        proc = self.check_config({"rule_files": ["bad-value-rules.yaml"]})
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stderr, mwlab.error_location("bad-value-rules.yaml",
                                               mwlab.line_number(rules, "lots")))

    def test_check_config_unknown_key_exits_1(self):
        text = mwlab.to_yaml(mwlab.deep_merge(self.lab.config_dict(self.KIND),
                                              {self.SECTION: {"no_such_setting": 1}}))
        d = self.daemon(text, filename=f"unknown-key-{self.KIND}.yaml")
        proc = d.run_tool("--check-config")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stderr, mwlab.error_location(f"unknown-key-{self.KIND}.yaml",
                                               mwlab.line_number(text, "no_such_setting")))
        self.assertIn("no_such_setting", proc.stderr)

    def test_print_defaults_exits_0(self):
        proc = mwlab.run_tool(self.binary(), ["--print-defaults"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(self.SOCKET_KEY, proc.stdout)

    # ---- running --------------------------------------------------------------------------

    def test_sigterm_exits_0_within_shutdown_timeout(self):
        d = self.daemon(self.inet_config()).start()
        self.works(d)
        started = time.monotonic()
        self.assertEqual(d.stop(SHUTDOWN_TIMEOUT + 2), 0, d.stderr_text())
        self.assertLess(time.monotonic() - started, SHUTDOWN_TIMEOUT + 1)

    def test_sigterm_with_client_connected_exits_0_within_shutdown_timeout(self):
        d = self.daemon(self.inet_config()).start()
        with self.hold_connection(d.spec):
            started = time.monotonic()
            self.assertEqual(d.stop(SHUTDOWN_TIMEOUT + 2), 0, d.stderr_text())
            self.assertLess(time.monotonic() - started, SHUTDOWN_TIMEOUT + 1)

    def test_sigterm_when_idle_exits_within_a_short_shutdown_timeout(self):
        # shutdown_timeout is an upper bound for draining work, not a fixed delay: with
        # nothing in flight and shutdown_timeout 2s the daemon must be gone within 2s (+1s
        # slack for a loaded CI machine).
        cfg = mwlab.deep_merge(self.inet_config(), self.SHORT_SHUTDOWN)
        d = self.daemon(cfg).start()
        self.works(d)
        started = time.monotonic()
        rc = d.stop(10)
        elapsed = time.monotonic() - started
        self.assertEqual(rc, 0, d.stderr_text())
        self.assertLess(elapsed, 3.0, f"idle daemon took {elapsed:.1f}s to stop:\n"
                                      f"{d.stderr_text()}")

    def test_sigint_exits_0(self):
        d = self.daemon(self.inet_config()).start()
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait(SHUTDOWN_TIMEOUT + 2), 0, d.stderr_text())

    def test_ready_line_names_the_configured_socket(self):
        cfg = self.inet_config()
        d = self.daemon(cfg).start()
        try:
            self.assertEqual(d.spec, mwlab.SocketSpec.parse(cfg[self.SECTION][self.SOCKET_KEY]))
            self.works(d)
        finally:
            d.stop()

    def test_command_line_socket_overrides_config(self):
        spec = f"unix:{self.lab.dir / f'override-{self.KIND}.sock'}"
        d = self.daemon(self.inet_config(), extra_args=[self.SOCKET_OPTION, spec]).start()
        try:
            self.assertEqual(d.spec, mwlab.SocketSpec.parse(spec))
            self.works(d)
        finally:
            d.stop()

    def test_second_instance_on_same_inet_port_fails_first_unharmed(self):
        cfg = self.inet_config()
        port = cfg[self.SECTION][self.SOCKET_KEY].rsplit(":", 1)[1]
        first = self.daemon(cfg).start()
        try:
            second = self.daemon(cfg)
            self.assert_exits_with_error(second, rf"{port}|(?i:in use)")
            self.assertTrue(first.running)
            self.works(first)
        finally:
            first.stop()

    def test_second_instance_on_same_unix_socket_fails_first_unharmed(self):
        cfg = self.unix_config(f"busy-{self.KIND}.sock")
        first = self.daemon(cfg).start()
        try:
            second = self.daemon(cfg)
            self.assert_exits_with_error(second, re.escape(f"busy-{self.KIND}.sock"))
            self.assertTrue(Path(first.spec.path).exists(), "the socket file must survive")
            self.assertTrue(first.running)
            self.works(first)
        finally:
            first.stop()

    def test_stale_unix_socket_file_is_replaced(self):
        # A socket file left by a crashed instance (nobody listening) must not block a start.
        path = self.lab.dir / f"stale-{self.KIND}.sock"
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()                       # bound, never listened: connect() is refused
        d = self.daemon({self.SECTION: {self.SOCKET_KEY: f"unix:{path}"}}).start()
        try:
            self.works(d)
        finally:
            d.stop()


class _Listener:
    """Holds a loopback port bound and listening for the duration of a with-block."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()


class MilterLifecycleTest(DaemonLifecycleBase, unittest.TestCase):
    KIND = "milter"
    SECTION = "milter"
    SOCKET_KEY = "socket"
    SOCKET_OPTION = "--socket"
    BAD_LINE_NEEDLE = "shutdown_timeout: 5s"
    SHORT_SHUTDOWN = {"milter": {"shutdown_timeout": "2s"}}

    def works(self, d):
        letter, text = mwlab.milter_mail_from(d.spec, "probe@mwlab.example",
                                              f"SIZE={2 * 1024 * 1024}")
        self.assertEqual(letter, "y", f"expected a reply code from the milter, got {letter!r}")
        self.assertRegex(text, r"^552 5\.3\.4 ")

    def hold_connection(self, spec):
        client = mwlab.MilterClient(spec)
        client.optneg()
        client.connect()
        return client

    # ---- offline --test mode ------------------------------------------------------------------

    def write_eml(self, name: str, body_size: int) -> Path:
        path = self.lab.dir / name
        path.write_bytes(mwlab.build_message("a@mwlab.example", ["b@example.com"],
                                             body_size=body_size))
        return path

    def test_offline_test_accepts_small_message_exit_0(self):
        eml = self.write_eml("small.eml", 1000)
        d = self.daemon(self.inet_config())
        proc = d.run_tool("--test", str(eml), "--from", "a@mwlab.example",
                          "--rcpt", "b@example.com")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_offline_test_rejects_oversize_message_exit_1(self):
        eml = self.write_eml("big.eml", 1024 * 1024 + 100 * 1024)
        d = self.daemon(self.inet_config())
        proc = d.run_tool("--test", str(eml), "--from", "a@mwlab.example",
                          "--rcpt", "b@example.com", "--rcpt", "c@example.com")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("message-size", proc.stdout + proc.stderr)

    def test_offline_test_does_not_bind(self):
        eml = self.write_eml("small2.eml", 100)
        cfg = self.inet_config()
        port = int(cfg["milter"]["socket"].rsplit(":", 1)[1])
        with _Listener(port):
            proc = self.daemon(cfg).run_tool("--test", str(eml))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


class PolicydLifecycleTest(DaemonLifecycleBase, unittest.TestCase):
    KIND = "policyd"
    SECTION = "policyd"
    SOCKET_KEY = "listen"
    SOCKET_OPTION = "--listen"
    BAD_LINE_NEEDLE = "idle_timeout: 60s"
    SHORT_SHUTDOWN = {"policyd": {"shutdown_timeout": "2s"}}

    def works(self, d):
        action = mwlab.policy_request(d.spec, mwlab.policy_attrs(sender="blocked@example.net"))
        self.assertRegex(action, r"^(?i:REJECT|5\d\d)\b", action)
        action = mwlab.policy_request(d.spec, mwlab.policy_attrs(sender="fine@example.org"))
        self.assertIn(action.split(" ")[0].upper(), ("DUNNO", "OK"), action)

    def hold_connection(self, spec):
        client = mwlab.PolicyClient(spec)
        client.request(mwlab.policy_attrs())      # a persistent connection, as smtpd keeps
        return client


if __name__ == "__main__":
    unittest.main(verbosity=2)

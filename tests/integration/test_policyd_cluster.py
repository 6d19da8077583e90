#!/usr/bin/env python3
"""Two Postfix hosts enforcing one sending limit: mailwarden-policyd's rate counters in Redis.

Two labs (two private Postfix instances, each with its own mailwarden-policyd) share one
private redis-server (tests/integration/mwredis.py) as rate_limits.database.  A SASL user
(impersonated with XCLIENT LOGIN=) sends two messages through host A and one through host B:
the allowance of three is used up on both hosts at once, so the fourth is refused 450 4.7.1 at
RCPT whichever host it goes through.  The counters are Redis hashes that expire by themselves.
With Redis stopped, both daemons answer rate_limits.on_unavailable (tempfail: 450 4.3.0) at
once instead of hanging, and count again once Redis is back on the same port.

The account directory is shared too: both daemons read one private PostgreSQL database
(tests/integration/mwpostgres.py, accounts.database: postgresql://...); an account suspended
with `mailwarden-policyd accounts suspend` against it is refused 550 5.7.1 by both hosts.
"""

import sys
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402
import mwpostgres  # noqa: E402
import mwredis  # noqa: E402

DOMAIN = mwlab.INTERNAL_DOMAIN
OUTSIDE = "someone@example.com"
ALLOWANCE = 3
PASSWORD = "cluster-secret"

RULES = [
    {"id": "sasl-rate", "check": "rate_limit", "key": "sasl_username", "window": "1h",
     "max_messages": ALLOWANCE},
    # Judges only addresses the directory knows: the rate limit cases' users pass it.
    {"id": "account-state", "check": "account_state", "action": "reject"},
]


class ClusterRateLimitTest(unittest.TestCase):
    redis: mwredis.RedisServer
    postgres: mwpostgres.PostgresServer | None = None
    hosts: list[mwlab.Lab] = []

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.redis = mwredis.RedisServer(password=PASSWORD).start()
        cls.hosts = []
        try:
            cls.postgres = mwpostgres.PostgresServer().start()
            cls.postgres.create_database("accounts")
            for name in ("host-a", "host-b"):
                # Each lab picks its own free ports and directory: they run side by side.
                # accounts.cache_ms 0: a suspension is seen by the next message.
                lab = mwlab.Lab(milter=False, policyd=True, rules=RULES, name=name,
                                policyd_config={
                                    "rate_limits": {"database": cls.redis.url(db=1),
                                                    "timeout_ms": 500},
                                    "accounts": {"database": cls.postgres.dsn("accounts"),
                                                 "cache_ms": 0, "timeout_ms": 1000}})
                cls.hosts.append(lab)
                lab.__enter__()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.a, cls.b = cls.hosts

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            for lab in cls.hosts:
                lab.close()
        finally:
            try:
                if cls.postgres is not None:
                    cls.postgres.close()
            finally:
                cls.redis.close()
                super().tearDownClass()

    # ---- helpers ---------------------------------------------------------------------------

    def send_as(self, lab: mwlab.Lab, user: str) -> mwlab.SendResult:
        return lab.send(user, OUTSIDE, extra_args=["--xclient", f"LOGIN={user}"])

    def assertReply(self, lab: mwlab.Lab, result: mwlab.SendResult, code: int, enhanced: str,
                    stage: str, text_contains: str | None = None) -> None:
        r = result.reply
        problems = []
        if r is None:
            problems.append("no reply at all")
        else:
            if (r.code, r.enhanced) != (code, enhanced):
                problems.append(f"{r.code} {r.enhanced} != {code} {enhanced}")
            if text_contains is not None and text_contains not in r.text:
                problems.append(f"{text_contains!r} not in {r.text!r}")
        if result.stage != stage:
            problems.append(f"stage {result.stage} != {stage}")
        if problems:
            self.fail("; ".join(problems) + f"\n{result}\n{lab.diagnostics()}")

    def assertLimited(self, lab: mwlab.Lab, user: str) -> None:
        self.assertReply(lab, self.send_as(lab, user), 450, "4.7.1", "rcpt",
                         text_contains=f"sending limit reached ({ALLOWANCE} messages per 1h)")

    def buckets(self, user: str) -> list[str]:
        return self.redis.command("KEYS", f"mailwarden:rate:{{sasl-rate|sasl_username|{user}}}:*",
                                  db=1)

    def admin(self, *args: str) -> str:
        """`mailwarden-policyd accounts ...` with host A's configuration (the shared DSN)."""
        r = self.a.policyd.run_tool("accounts", *args)
        self.assertEqual(r.returncode, 0, f"accounts {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r.stdout

    # ---- cases -----------------------------------------------------------------------------

    def test_account_suspended_in_postgresql_is_refused_by_both_hosts(self):
        sender = self.a.address("shared-account", DOMAIN)
        self.admin("add", sender)
        for lab in (self.a, self.b):
            self.assertReply(lab, lab.send(sender, OUTSIDE), 250, "2.0.0", "dot")
        self.admin("suspend", sender, "--reason", "compromised password")
        for lab in (self.a, self.b):
            self.assertReply(lab, lab.send(sender, OUTSIDE), 550, "5.7.1", "rcpt",
                             text_contains=f"sender account {sender} is suspended: "
                                           "compromised password")

    def test_limit_is_shared_by_both_hosts(self):
        user = self.a.address("roaming", DOMAIN)
        for lab in (self.a, self.a, self.b):
            self.assertReply(lab, self.send_as(lab, user), 250, "2.0.0", "dot")
        # One counter for both hosts, in Redis's database 1, expiring by itself.
        buckets = self.buckets(user)
        self.assertEqual(len(buckets), 1, buckets)
        self.assertEqual(self.redis.command("HGET", buckets[0], "m", db=1), str(ALLOWANCE))
        ttl = self.redis.command("TTL", buckets[0], db=1)
        self.assertTrue(0 < ttl <= 3600 + 300, ttl)
        self.assertEqual(self.redis.command("DBSIZE"), 0, "nothing in database 0")

        # The fourth message is refused by either host.
        self.assertLimited(self.b, user)
        self.assertLimited(self.a, user)
        for lab in (self.a, self.b):
            entry = lab.wait_for_decision({"user.name": user, "event.action": "tempfail"},
                                          daemon="policyd")
            evidence = entry["mailwarden"]["findings"][0]["evidence"]
            self.assertEqual((evidence["limit"], evidence["used"]["messages"]),
                             ("max_messages", ALLOWANCE), entry)
        # The refusals were not counted, and another user is not affected.
        self.assertEqual(self.redis.command("HGET", buckets[0], "m", db=1), str(ALLOWANCE))
        other = self.a.address("colleague", DOMAIN)
        self.assertReply(self.b, self.send_as(self.b, other), 250, "2.0.0", "dot")

    def test_redis_down_answers_on_unavailable_at_once_and_recovers(self):
        user = self.a.address("during-outage", DOMAIN)
        self.assertReply(self.a, self.send_as(self.a, user), 250, "2.0.0", "dot")
        self.redis.stop()
        try:
            for lab in (self.a, self.b):
                started = time.monotonic()
                result = self.send_as(lab, user)
                elapsed = time.monotonic() - started
                self.assertReply(lab, result, 450, "4.3.0", "rcpt",
                                 text_contains="sending limits cannot be checked")
                self.assertLess(elapsed, 5.0, "the answer must come within the time budget")
                entry = lab.wait_for_decision({"user.name": user, "event.action": "tempfail"},
                                              daemon="policyd")
                finding = entry["mailwarden"]["findings"][0]
                self.assertEqual(finding["evidence"]["on_unavailable"], "tempfail", entry)
                error = finding["evidence"]["error"]
                self.assertIn(f"127.0.0.1:{self.redis.port}", error, entry)
                self.assertNotIn(PASSWORD, error, entry)
                self.assertNotIn(PASSWORD, lab.policyd.stderr_text())
        finally:
            self.redis.start()   # same port, no persistence: the counts start afresh
        time.sleep(1.2)          # the daemons leave a failed store alone for a second
        for lab in (self.a, self.b):
            self.assertReply(lab, self.send_as(lab, user), 250, "2.0.0", "dot")
        self.assertEqual(self.redis.command("HGET", self.buckets(user)[0], "m", db=1), "2")


if __name__ == "__main__":
    unittest.main()

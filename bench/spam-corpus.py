#!/usr/bin/env python3
"""spam-corpus.py: the SpamAssassin public corpus as a labelled, split data set for the
spam evaluation, and the scoring of any scorer's results on it (python3 stdlib only).

The corpus is the one scripts/fetch-spam-corpus.sh caches: <dir>/<group>/<NNNNN>.<md5>.txt,
groups easy-ham-1, easy-ham-2, hard-ham-1 (ham) and spam-1, spam-2 (spam). Each message is
labelled by its group: spam, ham, or hard-ham (ham that looks like spam; counted as ham,
and reported on its own too).

Split rule (fixed, so every product is trained and measured on the same messages): the
first hex digit of the MD5 in the file name; 0-b -> training, c-f -> evaluation (about
3/4 and 1/4 of every group). A message duplicated under two names with the same MD5 lands
in the same split both times, so the evaluation never sees a message trained on.

  spam-corpus.py [--corpus DIR] list [--split train|eval]
        one line per message: path<TAB>group<TAB>label<TAB>split
  spam-corpus.py [--corpus DIR] split [--json]
        message counts per group and split
  spam-corpus.py [--corpus DIR] export DIR
        DIR/train/{spam,ham}/ and DIR/eval/{spam,ham,hard-ham}/, one message per file named
        <group>.<NNNNN>.<md5>.eml (hard links where possible, else copies; byte for byte);
        hard-ham of the training split goes to train/ham; DIR/MANIFEST lists them all
        (exported path, group, label, split). DIR must be empty or absent.
  spam-corpus.py [--corpus DIR] score --results [NAME=]FILE [--results ...]
                 [--threshold T] [--check-coverage] [--json]
        reads a scorer's lines "path<TAB>score<TAB>is_spam" (is_spam 1/0, true/false,
        yes/no, spam/ham, or "error" when the scorer failed on that message; # comments and
        blank lines ignored) and prints precision, recall, false-positive rate on ham
        (easy + hard) and on hard-ham alone, as a table (one column per results file) and
        as JSON (one line per results file). --threshold re-decides is_spam as
        score >= T. --check-coverage also requires one line for every evaluation message.
  spam-corpus.py [--corpus DIR] regression-list [--spam N] [--ham N] [--hard-ham N]
        a small labelled subset of the evaluation split, chosen by name (lowest MD5s
        first), in the format of tests/data/spam-regression/LIST
  spam-corpus.py [--corpus DIR] resolve-list FILE
        each entry of such a LIST as path<TAB>label<TAB>group; exit 1 if one is missing
        from the corpus or its label disagrees with its group

A path in results is recognised by its file name: an exported <group>.<NNNNN>.<md5>.eml, or a
corpus path .../<group>/<NNNNN>.<md5>.txt. Results for training messages are refused (exit
1): scoring a scorer on what it was trained on says nothing.

--corpus defaults to $MW_SPAM_CORPUS (the messages directory), else to what
scripts/fetch-spam-corpus.sh --print-dir prints (it fetches the corpus on first use).

Exit status: 0 done, 1 bad data (unknown file name, missing message, unreadable results,
training message scored, missing coverage), 2 bad usage.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys

GROUPS = {
    "easy-ham-1": "ham",
    "easy-ham-2": "ham",
    "hard-ham-1": "hard-ham",
    "spam-1": "spam",
    "spam-2": "spam",
}
LABELS = ("spam", "ham", "hard-ham")
SPLITS = ("train", "eval")
# The spam checks' targets (see bench/README.md, "Spam evaluation").
TARGET_FP_HAM = 0.005
TARGET_RECALL = 0.95

CORPUS_NAME = re.compile(r"^(\d{5})\.([0-9a-f]{32})\.txt$")
EXPORT_NAME = re.compile(r"^([a-z0-9-]+)\.(\d{5})\.([0-9a-f]{32})\.eml$")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DataError(Exception):
    """Bad input data: reported on stderr, exit status 1."""


def split_of(md5):
    """The split of a message with this MD5: training for 0-b, evaluation for c-f."""
    return "train" if int(md5[0], 16) < 12 else "eval"


def label_of(group):
    return GROUPS[group]


def is_spam_label(label):
    return label == "spam"


class Message:
    __slots__ = ("path", "group", "number", "md5", "label", "split")

    def __init__(self, path, group, number, md5):
        self.path = path
        self.group = group
        self.number = number
        self.md5 = md5
        self.label = label_of(group)
        self.split = split_of(md5)

    @property
    def key(self):
        """The message's identity across corpus and export names: group/NNNNN.md5."""
        return f"{self.group}/{self.number}.{self.md5}"

    @property
    def export_name(self):
        return f"{self.group}.{self.number}.{self.md5}.eml"


def corpus_dir(arg):
    if arg:
        return arg
    env = os.environ.get("MW_SPAM_CORPUS")
    if env:
        return env
    fetch = os.path.join(REPO, "scripts", "fetch-spam-corpus.sh")
    try:
        run = subprocess.run([fetch, "--print-dir"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise DataError(f"cannot run {fetch}: {e.strerror}")
    if run.returncode != 0:
        # Its counts and progress are noise when it works; its reasons matter when not.
        sys.stderr.write(run.stderr)
        raise DataError(f"{fetch} failed (exit {run.returncode})")
    return run.stdout.strip()


def load_corpus(directory):
    """Every message of the corpus, sorted by group then name. Refuses unknown names."""
    if not os.path.isdir(directory):
        raise DataError(f"{directory}: not a directory")
    messages = []
    for group in sorted(os.listdir(directory)):
        gdir = os.path.join(directory, group)
        if not os.path.isdir(gdir):
            continue
        if group not in GROUPS:
            raise DataError(f"{gdir}: unknown group")
        for name in sorted(os.listdir(gdir)):
            m = CORPUS_NAME.match(name)
            if not m:
                raise DataError(f"{os.path.join(gdir, name)}: not <NNNNN>.<md5>.txt")
            messages.append(Message(os.path.join(gdir, name), group, m.group(1), m.group(2)))
    missing = sorted(set(GROUPS) - {m.group for m in messages})
    if missing:
        raise DataError(f"{directory}: no messages for {', '.join(missing)}")
    return messages


def identify(path):
    """(group, number, md5) of a corpus or export path, or None."""
    base = os.path.basename(path)
    m = EXPORT_NAME.match(base)
    if m and m.group(1) in GROUPS:
        return m.group(1), m.group(2), m.group(3)
    m = CORPUS_NAME.match(base)
    group = os.path.basename(os.path.dirname(path))
    if m and group in GROUPS:
        return group, m.group(1), m.group(2)
    return None


# ---------------------------------------------------------------------------- list, split


def cmd_list(args):
    for m in load_corpus(corpus_dir(args.corpus)):
        if args.split and m.split != args.split:
            continue
        print(f"{m.path}\t{m.group}\t{m.label}\t{m.split}")
    return 0


def cmd_split(args):
    messages = load_corpus(corpus_dir(args.corpus))
    counts = {g: {s: 0 for s in SPLITS} for g in GROUPS}
    for m in messages:
        counts[m.group][m.split] += 1
    by_label = {lab: {s: 0 for s in SPLITS} for lab in LABELS}
    for g, c in counts.items():
        for s in SPLITS:
            by_label[label_of(g)][s] += c[s]
    if args.json:
        print(json.dumps({"groups": counts, "labels": by_label,
                          "total": {s: sum(c[s] for c in counts.values()) for s in SPLITS}}))
        return 0
    print(f"{'group':<12} {'label':<9} {'train':>6} {'eval':>6} {'all':>6}")
    for g, c in counts.items():
        print(f"{g:<12} {label_of(g):<9} {c['train']:>6} {c['eval']:>6} "
              f"{c['train'] + c['eval']:>6}")
    for lab, c in by_label.items():
        print(f"{'(' + lab + ')':<12} {'':<9} {c['train']:>6} {c['eval']:>6} "
              f"{c['train'] + c['eval']:>6}")
    tr = sum(c["train"] for c in counts.values())
    ev = sum(c["eval"] for c in counts.values())
    print(f"{'total':<12} {'':<9} {tr:>6} {ev:>6} {tr + ev:>6}")
    return 0


# ---------------------------------------------------------------------------- export


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def cmd_export(args):
    messages = load_corpus(corpus_dir(args.corpus))
    out = args.dir
    if os.path.exists(out) and os.listdir(out):
        raise DataError(f"{out}: not empty (export writes a fresh directory)")
    dirs = {("train", "spam"): "train/spam", ("train", "ham"): "train/ham",
            ("train", "hard-ham"): "train/ham", ("eval", "spam"): "eval/spam",
            ("eval", "ham"): "eval/ham", ("eval", "hard-ham"): "eval/hard-ham"}
    for d in set(dirs.values()):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    counts = {d: 0 for d in sorted(set(dirs.values()))}
    with open(os.path.join(out, "MANIFEST"), "w", encoding="utf-8") as manifest:
        manifest.write("# path\tgroup\tlabel\tsplit (written by bench/spam-corpus.py export)\n")
        for m in messages:
            rel = os.path.join(dirs[(m.split, m.label)], m.export_name)
            link_or_copy(m.path, os.path.join(out, rel))
            counts[dirs[(m.split, m.label)]] += 1
            manifest.write(f"{rel}\t{m.group}\t{m.label}\t{m.split}\n")
    for d, n in counts.items():
        print(f"export: {n:>5} {os.path.join(out, d)}")
    return 0


# ---------------------------------------------------------------------------- score

TRUE_WORDS = {"1", "true", "yes", "spam"}
FALSE_WORDS = {"0", "false", "no", "ham"}


def ratio(num, den):
    return num / den if den else None


def read_results(path, threshold):
    """{message key: (group, score, verdict)}; verdict True/False, or None for an error."""
    results = {}
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"{path}: {e.strerror}")
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise DataError(f"{path}:{lineno}: expected path<TAB>score<TAB>is_spam")
            where, score_text, verdict_text = fields
            ident = identify(where)
            if ident is None:
                raise DataError(f"{path}:{lineno}: {where}: not a corpus or exported message")
            group, number, md5 = ident
            key = f"{group}/{number}.{md5}"
            if split_of(md5) != "eval":
                raise DataError(f"{path}:{lineno}: {where} is in the training split")
            if key in results:
                raise DataError(f"{path}:{lineno}: {where} scored twice")
            word = verdict_text.strip().lower()
            try:
                score = float(score_text)
            except ValueError:
                score = math.nan
            if word == "error":
                verdict = None
            elif word in TRUE_WORDS or word in FALSE_WORDS:
                verdict = word in TRUE_WORDS
                if threshold is not None:
                    if math.isnan(score):
                        raise DataError(f"{path}:{lineno}: score '{score_text}' is no number")
                    verdict = score >= threshold
            else:
                raise DataError(f"{path}:{lineno}: is_spam '{verdict_text}' is not 1/0/error")
            results[key] = (group, score, verdict)
    return results


def metrics(name, results, expected):
    """The evaluation figures of one scorer. expected: eval keys to cover, or None."""
    n = {lab: 0 for lab in LABELS}
    flagged = {lab: 0 for lab in LABELS}
    errors = {lab: 0 for lab in LABELS}
    for group, _score, verdict in results.values():
        lab = label_of(group)
        if verdict is None:
            errors[lab] += 1
            continue
        n[lab] += 1
        flagged[lab] += verdict
    tp = flagged["spam"]
    fn = n["spam"] - tp
    fp_easy, fp_hard = flagged["ham"], flagged["hard-ham"]
    fp = fp_easy + fp_hard
    ham = n["ham"] + n["hard-ham"]
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    out = {
        "name": name,
        "messages": sum(n.values()),
        "errors": sum(errors.values()),
        "spam": n["spam"],
        "ham": ham,
        "hard_ham": n["hard-ham"],
        "true_positives": tp,
        "false_negatives": fn,
        "false_positives": fp,
        "false_positives_hard_ham": fp_hard,
        "precision": precision,
        "recall": recall,
        "f1": (2 * precision * recall / (precision + recall)
               if precision and recall else None),
        "fp_rate_ham": ratio(fp, ham),
        "fp_rate_easy_ham": ratio(fp_easy, n["ham"]),
        "fp_rate_hard_ham": ratio(fp_hard, n["hard-ham"]),
        "accuracy": ratio(tp + ham - fp, n["spam"] + ham),
    }
    if expected is not None:
        out["missing"] = len(expected - set(results))
    out["meets_targets"] = (out["fp_rate_ham"] is not None and out["recall"] is not None
                            and out["fp_rate_ham"] <= TARGET_FP_HAM
                            and out["recall"] >= TARGET_RECALL and out["errors"] == 0
                            and not out.get("missing"))
    return out


def pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


def print_table(rows):
    lines = [
        ("messages scored", lambda r: str(r["messages"])),
        ("errors", lambda r: str(r["errors"])),
        ("spam / ham (all) / hard-ham", lambda r: f"{r['spam']}/{r['ham']}/{r['hard_ham']}"),
        ("precision", lambda r: pct(r["precision"])),
        ("recall (spam caught)", lambda r: pct(r["recall"])),
        ("FP rate, ham (easy+hard)", lambda r: pct(r["fp_rate_ham"])),
        ("FP rate, easy ham", lambda r: pct(r["fp_rate_easy_ham"])),
        ("FP rate, hard-ham", lambda r: pct(r["fp_rate_hard_ham"])),
        ("false positives (hard)", lambda r: f"{r['false_positives']} "
                                             f"({r['false_positives_hard_ham']})"),
        ("false negatives", lambda r: str(r["false_negatives"])),
        ("F1", lambda r: "-" if r["f1"] is None else f"{r['f1']:.4f}"),
    ]
    if any("missing" in r for r in rows):
        lines.append(("missing (not scored)", lambda r: str(r.get("missing", "-"))))
    lines.append((f"targets (FP<={100 * TARGET_FP_HAM:g}%, recall>={100 * TARGET_RECALL:g}%)",
                  lambda r: "met" if r["meets_targets"] else "not met"))
    width = max(len(label) for label, _ in lines)
    cols = [max(len(r["name"]), 12) for r in rows]
    print(f"{'':<{width}}  " + "  ".join(f"{r['name']:>{c}}" for r, c in zip(rows, cols)))
    for label, fmt in lines:
        print(f"{label:<{width}}  " + "  ".join(f"{fmt(r):>{c}}" for r, c in zip(rows, cols)))


def cmd_score(args):
    expected = None
    if args.check_coverage:
        expected = {m.key for m in load_corpus(corpus_dir(args.corpus)) if m.split == "eval"}
    rows = []
    for spec in args.results:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(spec))[0], spec
        rows.append(metrics(name, read_results(path, args.threshold), expected))
    if not args.json:
        print_table(rows)
        print()
    for r in rows:
        print(json.dumps(r, sort_keys=True))
    if expected is not None and any(r["missing"] for r in rows):
        print("score: some evaluation messages have no result (see 'missing')",
              file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------- regression list

LIST_HEADER = """\
# A small labelled subset of the SpamAssassin public corpus (evaluation split), for the
# spam regression test. The messages are not kept in the repository: they come from
# scripts/fetch-spam-corpus.sh, and `bench/spam-corpus.py resolve-list` maps each line to
# the cached file. Chosen by name (lowest MD5 first per label) with
#   bench/spam-corpus.py regression-list --spam {spam} --ham {ham} --hard-ham {hard}
# Format: label<TAB>group/<NNNNN>.<md5>.txt, label one of spam, ham, hard-ham.
"""


def cmd_regression_list(args):
    messages = [m for m in load_corpus(corpus_dir(args.corpus)) if m.split == "eval"]
    want = {"spam": args.spam, "ham": args.ham, "hard-ham": args.hard_ham}
    print(LIST_HEADER.format(spam=args.spam, ham=args.ham, hard=args.hard_ham), end="")
    for lab in LABELS:
        chosen = sorted((m for m in messages if m.label == lab),
                        key=lambda m: (m.md5, m.group, m.number))
        if len(chosen) < want[lab]:
            raise DataError(f"only {len(chosen)} {lab} messages in the evaluation split")
        for m in chosen[:want[lab]]:
            print(f"{lab}\t{m.key}.txt")
    return 0


def cmd_resolve_list(args):
    directory = corpus_dir(args.corpus)
    bad = 0
    with open(args.file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2 or fields[0] not in LABELS:
                raise DataError(f"{args.file}:{lineno}: expected label<TAB>group/name")
            lab, rel = fields
            path = os.path.join(directory, rel)
            ident = identify(path)
            if ident is None or label_of(ident[0]) != lab:
                print(f"{args.file}:{lineno}: {rel}: label {lab} disagrees with its group",
                      file=sys.stderr)
                bad += 1
            elif not os.path.isfile(path):
                print(f"{args.file}:{lineno}: {path}: missing", file=sys.stderr)
                bad += 1
            else:
                print(f"{path}\t{lab}\t{ident[0]}")
    return 1 if bad else 0


# ---------------------------------------------------------------------------- main


def main(argv):
    p = argparse.ArgumentParser(
        prog="spam-corpus.py", description="SpamAssassin public corpus: split, export, score",
        epilog="Split rule: first hex digit of the file name's MD5, 0-b train, c-f eval.")
    p.add_argument("--corpus", help="the corpus's messages directory (<group>/<file>)")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list", help="path, group, label, split of every message")
    s.add_argument("--split", choices=SPLITS)
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("split", help="counts per group and split")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_split)
    s = sub.add_parser("export", help="write train/{spam,ham} and eval/{spam,ham,hard-ham}")
    s.add_argument("dir")
    s.set_defaults(func=cmd_export)
    s = sub.add_parser("score", help="precision, recall, FP rates of results files")
    s.add_argument("--results", action="append", required=True, metavar="[NAME=]FILE")
    s.add_argument("--threshold", type=float, help="is_spam := score >= T")
    s.add_argument("--check-coverage", action="store_true",
                   help="require a result for every evaluation message")
    s.add_argument("--json", action="store_true", help="JSON lines only")
    s.set_defaults(func=cmd_score)
    s = sub.add_parser("regression-list", help="a small labelled subset of the eval split")
    s.add_argument("--spam", type=int, default=20)
    s.add_argument("--ham", type=int, default=15)
    s.add_argument("--hard-ham", type=int, default=5)
    s.set_defaults(func=cmd_regression_list)
    s = sub.add_parser("resolve-list", help="paths of a regression LIST's messages")
    s.add_argument("file")
    s.set_defaults(func=cmd_resolve_list)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except DataError as e:
        print(f"spam-corpus: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

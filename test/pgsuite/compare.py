#!/usr/bin/env python3
"""test/pgsuite/compare.py — judge a heap run and a versioned_columnar run of PostgreSQL's
regression suite against each other (called by test/pgsuite/run.sh).

Per test, the two runs' outputs (results/<test>.out) are diffed line by line without
context; each hunk of that diff must be one of the test's expected differences, listed in
expected-diffs/<test>.diff:

    ## <category>: <one-line reason>
    @@
    -line as heap prints it
    +line as versioned_columnar prints it

A "## category: reason" line heads the hunks after it; the category "refusal" counts as a
documented refusal, any other (plan, cosmetic, size, ctid, order, ...) as cosmetic.  A hunk
may be listed once and match any number of identical hunks of the test.  Where the exact
lines vary from run to run (another session's locks in pg_locks), a "~~" block instead of
"@@" lists regular expressions (written with the -/+ prefix): it matches every hunk each of
whose lines fully matches one of them.  Besides the diff,
the server logs decide: a backend crash (terminated by signal, not by the watchdog), a
HANG recorded by the watchdog, and an internal error (SQLSTATE XX000/XX001) that the heap
run does not raise too always fail the test they happen in.
"""
import argparse
import collections
import difflib
import os
import re
import sys

REFUSAL = "refusal"


def schedule_tests(path):
    tests = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^test:\s*(.*)$", line)
            if m:
                tests.extend(m.group(1).split())
    return tests


DASHES = re.compile(r"^-+(\+-+)*$")
ROWS = re.compile(r"^\((\d+) rows?\)$")
# The columnar scan's own EXPLAIN lines: what it reads, not a different plan shape.
PLAN_EXTRA = re.compile(r"^\s*(Columns Read: (\d+|N) of (\d+|N)|Skip Keys: (\d+|N)|Segments Read: (\d+|N)"
                        r"|Segments Skipped: (\d+|N))\s*\+?$")
CUSTOM_SCAN = "Custom Scan (VersionedColumnarScan) on"


def plan_rows(rows):
    """EXPLAIN lines with the columnar scan read as the Seq Scan it replaces."""
    return [r.replace(CUSTOM_SCAN, "Seq Scan on") for r in rows if not PLAN_EXTRA.match(r)]


def cells(line):
    return "|".join(c.strip() for c in line.split("|"))


def ordered(echoed):
    """Whether the last statement in the echoed lines orders its result: an ORDER BY
    outside every parenthesis (one in a subquery, CTE or window orders nothing)."""
    text = " ".join(re.sub(r"--.*$", "", l) for l in echoed[-60:])
    parts = [p for p in text.split(";") if p.strip()]
    stmt = parts[-1] if parts else ""
    depth, quoted, flat = 0, False, []
    for ch in stmt:
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif depth == 0:
                flat.append(ch)
                continue
        flat.append(" ")
    return re.search(r"\border\s+by\b", "".join(flat), re.I) is not None


def normalise(lines):
    """The output with what is not a difference made equal in both runs:

    * a result table whose statement has no ORDER BY has its rows sorted (SQL leaves
      their order open; the access methods return them in different orders);
    * a result table's cells lose their padding and its frame (dashes, row count) is
      dropped: the rows say it all, and a wider value changes no other line;
    * in EXPLAIN output, "Custom Scan (VersionedColumnarScan)" reads as the "Seq Scan"
      it replaces, the scan's own detail lines (Columns Read, Skip Keys, Segments) are
      dropped, and so is the frame; the plan lines keep their order and indentation.
    """
    lines = [l.rstrip("\n").rstrip() for l in lines]
    out = []
    since_table = []        # lines since the last result table: the statement and notices
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if i + 1 < n and line and DASHES.match(lines[i + 1]):
            j = i + 2
            while j < n and not ROWS.match(lines[j]):
                j += 1
            rows = lines[i + 2:j]
            # A result table, not a "--" comment after some statement line: the header
            # fits the frame with one column per frame segment, and the footer counts
            # the rows (more lines only when some value spans lines).
            if (j < n and len(line) <= len(lines[i + 1]) and line.count("|") == lines[i + 1].count("+")
                    and (len(rows) == int(ROWS.match(lines[j]).group(1))
                         or any(r.endswith("+") for r in rows))):
                plan = plan_rows(rows)
                if (line.strip() == "QUERY PLAN" or "explain" in line.lower() or plan != rows
                        or any(re.match(r"^\s*->  ", r) for r in rows)):
                    # EXPLAIN output, also when a function returns it: the frame
                    # follows from the rows, which keep their order.
                    out.append(line.strip())
                    out.append("----")
                    out.extend(plan)
                    out.append("(end of plan)")
                else:
                    # Cells without their padding: a wider value elsewhere in the
                    # column changes no other line.  The footer's count says no more
                    # than the rows themselves.
                    rows = [cells(r) for r in rows]
                    if not ordered(since_table):
                        rows = sorted(rows)
                    out.append(cells(line))
                    out.append("----")
                    out.extend(rows)
                    out.append("(end of rows)")
                since_table = []
                i = j + 1
                continue
        # Outside a table frame (\t mode, \gexec): EXPLAIN lines read the same way.
        if not PLAN_EXTRA.match(line):
            line = line.replace(CUSTOM_SCAN, "Seq Scan on")
            out.append(line)
            since_table.append(line)
        i += 1
    return out


def read_output(run, test):
    path = os.path.join(run, "results", test + ".out")
    if not os.path.exists(path):
        return None
    with open(path, errors="replace") as f:
        return normalise(f.readlines())


def hunks(a, b):
    """The differences between a and b as hunks: tuples of '-'/'+' prefixed lines."""
    result = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        result.append(tuple(["-" + x for x in a[i1:i2]] + ["+" + x for x in b[j1:j2]]))
    return result


SERVER_OUTPUT = re.compile(r"^(ERROR|WARNING|NOTICE|INFO|HINT|DETAIL|CONTEXT|QUERY|STATEMENT):  |^LINE \d+: |^\s*\^$|^psql:")


def statement_before(lines, index):
    """The echoed statement whose output (or echo) is at lines[index], on one line (for
    reports and new expected-diffs entries)."""
    in_table = [False] * len(lines)
    start = None
    for i, l in enumerate(lines):
        if l == "----" and i > 0 and start is None:
            start = i - 1
        elif l in ("(end of rows)", "(end of plan)") and start is not None:
            for k in range(start, i + 1):
                in_table[k] = True
            start = None
    k = min(index, len(lines)) - 1
    while k >= 0 and (in_table[k] or not lines[k].endswith(";")):
        k -= 1
    if k < 0:
        return ""
    end = k
    k -= 1
    while (k >= 0 and not in_table[k] and not lines[k].endswith(";") and lines[k].strip()
           and not SERVER_OUTPUT.match(lines[k])):
        k -= 1
    stmt = [l.strip() for l in lines[k + 1:end + 1] if not l.lstrip().startswith("--")]
    return " ".join(stmt)


def load_expected(path):
    """The expected differences of one test: {hunk: (category, reason)}, a list of
    pattern blocks [(regexes, category, reason)], and the problems of the file."""
    entries, patterns, problems = {}, [], []
    if not os.path.exists(path):
        return entries, patterns, problems
    state = {"category": None, "reason": None, "kind": None, "lines": None}

    def close():
        lines, kind = state["lines"], state["kind"]
        if lines is None:
            return
        if state["category"] is None:
            problems.append("%s: a hunk without a '## category: reason' line" % path)
        elif not lines:
            problems.append("%s: an empty hunk" % path)
        elif kind == "@@":
            entries[tuple(lines)] = (state["category"], state["reason"])
        else:
            try:
                patterns.append(([re.compile(l) for l in lines], state["category"], state["reason"]))
            except re.error as e:
                problems.append("%s: bad pattern: %s" % (path, e))
        state["lines"] = None

    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("## "):
                close()
                m = re.match(r"^## ([a-z-]+): (\S.*)$", line)
                if not m or m.group(1) == "todo":
                    problems.append("%s:%d: entry needs a category and a reason: %s" % (path, lineno, line))
                    state["category"] = state["reason"] = None
                else:
                    state["category"], state["reason"] = m.group(1), m.group(2)
            elif line in ("@@", "~~"):
                close()
                state["kind"], state["lines"] = line, []
            elif line.startswith("#") and state["lines"] is None:
                continue
            elif state["lines"] is not None and state["kind"] == "@@" and line[:1] in ("-", "+"):
                state["lines"].append(line.rstrip())
            elif state["lines"] is not None and state["kind"] == "~~" and line.strip():
                state["lines"].append(line)
            elif line.strip() == "":
                continue
            else:
                problems.append("%s:%d: not part of a hunk: %s" % (path, lineno, line))
        close()
    return entries, patterns, problems


def match_pattern(hunk, patterns):
    """The first pattern block that matches every line of the hunk (each line fully
    matches one of the block's regexes, which are written with the -/+ prefix)."""
    for regexes, category, reason in patterns:
        if all(any(r.fullmatch(l) for r in regexes) for l in hunk):
            return category, reason
    return None


LOG_RE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\S*) (?:([^:\s]*): )?(ERROR|FATAL|PANIC|LOG|WARNING|DETAIL|STATEMENT|HINT|CONTEXT):  (.*)$")


def read_log(run):
    """Per-test internal errors, crashes (with the statement) from the server log."""
    path = os.path.join(run, "server.log")
    killed = set()
    kp = os.path.join(run, "killed.pids")
    if os.path.exists(kp):
        killed = {l.strip() for l in open(kp) if l.strip()}
    app_of = {}
    internal = collections.defaultdict(list)   # test -> [(message, statement)]
    crashes = []                                # (test, signal text, statement)
    last_error = {}
    raw = open(path, errors="replace").read().splitlines() if os.path.exists(path) else []
    lines = []
    for l in raw:
        # A message's continuation lines (multi-line statements) start with a tab.
        if l.startswith("\t") and lines:
            lines[-1] += " " + l.strip()
        else:
            lines.append(l)
    for i, line in enumerate(lines):
        m = LOG_RE.match(line)
        if not m:
            continue
        pid, code, app, level, msg = m.groups()
        app = (app or "").replace("pg_regress/", "")
        if app:
            app_of[pid] = app
        mc = re.search(r"application_name=pg_regress/(\S+)", msg)
        if mc:
            app_of[pid] = mc.group(1)
        if level in ("ERROR", "FATAL", "PANIC") and code in ("XX000", "XX001", "XX002"):
            last_error[pid] = len(internal[app])
            internal[app].append([code + " " + msg, ""])
        elif level == "STATEMENT" and code in ("XX000", "XX001", "XX002") and internal[app]:
            internal[app][-1][1] = msg
        mk = re.match(r"^server process \(PID (\d+)\) was terminated by signal (\d+)(.*)$", msg)
        if level == "LOG" and mk:
            cpid, sig = mk.group(1), mk.group(2)
            if cpid in killed:
                continue
            stmt = ""
            if i + 1 < len(lines) and "Failed process was running:" in lines[i + 1]:
                stmt = lines[i + 1].split("Failed process was running:", 1)[1].strip()
            crashes.append((app_of.get(cpid, "?"), "signal %s%s" % (sig, mk.group(3)), stmt))
    return internal, crashes


def read_hangs(run):
    out = []
    path = os.path.join(run, "hangs.tsv")
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 4:
                out.append((parts[1], parts[3]))
    return out


def guess_category(hunk):
    text = "\n".join(hunk)
    plus = [l[1:] for l in hunk if l.startswith("+")]
    minus = [l[1:] for l in hunk if l.startswith("-")]
    if any("ERROR:" in l for l in plus):
        return REFUSAL
    if sorted(plus) == sorted(minus):
        return "order"
    if re.search(r"Scan|QUERY PLAN|Columns Read|Skip Keys|->|Filter|Index Cond", text):
        return "plan"
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heap", required=True)
    ap.add_argument("--columnar", required=True)
    ap.add_argument("--schedule", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--accept", action="store_true")
    args = ap.parse_args()

    tests = schedule_tests(args.schedule)
    h_internal, h_crashes = read_log(args.heap)
    c_internal, c_crashes = read_log(args.columnar)
    c_hangs = read_hangs(args.columnar)
    h_hangs = read_hangs(args.heap)
    diffdir = os.path.join(os.path.dirname(args.columnar), "diffs")
    os.makedirs(diffdir, exist_ok=True)

    status = {}
    report = []
    problems = []
    stale = []
    counts = collections.Counter()
    new_entries = {}

    for t in tests:
        a = read_output(args.heap, t)
        b = read_output(args.columnar, t)
        reasons = []
        if a is None or b is None:
            reasons.append("no output from the %s run" % ("heap" if a is None else "columnar"))
            a = a or []
            b = b or []
        hs = hunks(a, b)
        with open(os.path.join(diffdir, t + ".diff"), "w") as f:
            for h in hs:
                f.write("@@\n" + "\n".join(h) + "\n")
        expected, patterns, probs = load_expected(os.path.join(args.expected, t + ".diff"))
        problems.extend(probs)
        used = set()
        cats = set()
        unmatched = []
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        positions = [j1 for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]
        for h, pos in zip(hs, positions):
            if h in expected:
                used.add(h)
                cats.add(expected[h][0])
                continue
            m = match_pattern(h, patterns)
            if m:
                cats.add(m[0])
            else:
                unmatched.append((h, statement_before(b, pos)))
        for h in expected:
            if h not in used:
                stale.append(t)
                break
        if unmatched:
            reasons.append("%d unexpected difference(s)" % len(unmatched))
        if any("terminating connection because of crash of another server process" in l
               or "server closed the connection unexpectedly" in l for l in b) and \
                not any("server closed the connection unexpectedly" in l for l in a):
            reasons.append("lost its connection (a crash or the watchdog restarted the server)")
        base = collections.Counter(m for m, s in h_internal.get(t, []))
        for msg, stmt in c_internal.get(t, []):
            if base[msg] > 0:
                base[msg] -= 1
                continue
            reasons.append("internal error %s   [statement: %s]" % (msg, stmt))
        for app, sig, stmt in c_crashes:
            if app == t:
                reasons.append("CRASH %s   [statement: %s]" % (sig, stmt))
        for app, stmt in c_hangs:
            if app == t:
                reasons.append("HANG (> statement timeout)   [statement: %s]" % stmt)
        for app, stmt in h_hangs:
            if app == t:
                reasons.append("HANG on heap   [statement: %s]" % stmt)
        if reasons:
            status[t] = "unexpected"
            report.append((t, reasons, unmatched))
            if args.accept and unmatched:
                new_entries[t] = unmatched
        elif not hs:
            status[t] = "identical"
        elif REFUSAL in cats:
            status[t] = "refusal"
        else:
            status[t] = "cosmetic"
        counts[status[t]] += 1

    # Crashes and hangs of sessions no test owns (e.g. the setup) fail the run too.
    orphan = [("CRASH %s   [statement: %s]" % (s, st)) for app, s, st in c_crashes if app not in status]
    orphan += [("HANG   [statement: %s]" % st) for app, st in c_hangs if app not in status]
    orphan += [("heap CRASH %s   [statement: %s]" % (s, st)) for app, s, st in h_crashes]

    lines = []
    for t, reasons, unmatched in report:
        lines.append("UNEXPECTED %s:" % t)
        for r in reasons:
            lines.append("    " + r)
        for h, stmt in unmatched[:6]:
            lines.append("    at: %s" % stmt[:160])
            for l in h[:12]:
                lines.append("      " + l[:160])
            if len(h) > 12:
                lines.append("      ... (%d lines)" % len(h))
        if len(unmatched) > 6:
            lines.append("    ... %d more (see diffs/%s.diff)" % (len(unmatched) - 6, t))
    for o in orphan:
        lines.append("UNEXPECTED (no test): " + o)
    for p in problems:
        lines.append("EXPECTED-DIFFS PROBLEM: " + p)
    if stale:
        lines.append("note: expected differences no longer seen in: %s" % " ".join(sorted(set(stale))))
    def names(kind):
        return " ".join(t for t in tests if status.get(t) == kind)
    lines.append("")
    lines.append("tests: %d; identical %d, cosmetic-only %d, expected refusals %d, unexpected %d"
                 % (len(tests), counts["identical"], counts["cosmetic"], counts["refusal"], counts["unexpected"]))
    lines.append("  cosmetic-only: " + names("cosmetic"))
    lines.append("  expected refusals: " + names("refusal"))
    lines.append("  unexpected: " + names("unexpected"))
    lines.append("columnar run: %d crash(es), %d hang(s), %d internal error(s) not seen on heap"
                 % (len(c_crashes), len(c_hangs),
                    sum(1 for t, r, u in report for x in r if x.startswith("internal error"))))
    if args.elapsed:
        lines.append("elapsed: %d s" % args.elapsed)

    if args.accept:
        for t, unmatched in new_entries.items():
            path = os.path.join(args.expected, t + ".diff")
            seen = set()
            with open(path, "a") as f:
                if os.path.getsize(path) == 0:
                    f.write("# %s: expected differences, heap (-) -> versioned_columnar (+)\n" % t)
                for h, stmt in unmatched:
                    if h in seen:
                        continue
                    seen.add(h)
                    f.write("## todo: %s (at: %s)\n@@\n%s\n" % (guess_category(h), stmt[:120], "\n".join(h)))
        lines.append("accepted: new entries for %d test(s) written to %s (each needs its reason)"
                     % (len(new_entries), args.expected))

    failed = counts["unexpected"] + len(orphan) + (1 if problems else 0)
    passed = len(tests) - counts["unexpected"]
    lines.append("%d passed, %d failed" % (passed, failed))
    text = "\n".join(lines) + "\n"
    with open(args.summary, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

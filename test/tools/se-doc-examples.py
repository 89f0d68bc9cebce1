#!/usr/bin/env python3
"""se-doc-examples.py: run the SQL examples of a docs/ page and check they print what it says.

    se-doc-examples.py extract PAGE [HEADING] > script.sql   the page's ```sql blocks, in order
    se-doc-examples.py check PAGE [HEADING] < psql-output     every claimed output line printed?

HEADING limits both to the section under that heading (up to the next heading of its level).
A block right after a line `<!-- not run by ... -->` is left out (an illustration, or one
needing what the test cluster lacks).  In a block, a whole-line comment `-- ...` is a claimed
output line, compared with psql's output with runs of blanks made one and blanks around `|`
normalized (so aligned and `-F ' | '` output compare equal) and an annotation at its end in
brackets after two blanks dropped; `<...>` in it matches anything.  Not claims: `-- (...)`
comments, `-- ...` comments, separator lines of dashes.  A comment `-- ... more than N seconds
later:` becomes a wait until N seconds after the newest commit of any versioned_columnar
table (a condition, not a fixed sleep).  The check also wants as many ERROR lines as the page
claims.
"""
import re
import sys


def section(lines, heading):
    if heading is None:
        return lines
    for i, line in enumerate(lines):
        if line.strip() == heading:
            level = len(line) - len(line.lstrip('#'))
            out = []
            for l in lines[i + 1:]:
                m = re.match(r'^(#+) ', l)
                if m and len(m.group(1)) <= level:
                    break
                out.append(l)
            return out
    sys.exit('heading not found: %s' % heading)


def blocks(lines):
    """The ```sql blocks to run, as lists of lines."""
    result, cur, skip, prev = [], None, False, ''
    for line in lines:
        if cur is None:
            if line.startswith('```sql'):
                cur = []
                skip = prev.startswith('<!-- not run by')
            elif line.strip():
                prev = line.strip()
        elif line.startswith('```'):
            if not skip:
                result.append(cur)
            cur, prev = None, ''
        else:
            cur.append(line)
    return result


def norm(s):
    s = re.sub(r'^psql:[^:]*:\d+: ', '', s.strip())
    s = re.sub(r'\s*\|\s*', ' | ', s)
    s = re.sub(r'\s+', ' ', s)
    return s.strip()


def claims(blks):
    out = []
    for b in blks:
        for line in b:
            m = re.match(r'^\s*-- ?(.*)$', line)
            if not m:
                continue
            c = m.group(1)
            if c.startswith('(') or c.startswith('...') or re.fullmatch(r'[-+ ]+', c):
                continue
            c = re.sub(r'\s{2,}\([^()]*(\([^()]*\)[^()]*)*\)\s*$', '', c)
            out.append(norm(c))
    return out


def main():
    mode, page = sys.argv[1], sys.argv[2]
    heading = sys.argv[3] if len(sys.argv) > 3 else None
    with open(page, encoding='utf-8') as f:
        lines = section(f.read().split('\n'), heading)
    blks = blocks(lines)
    if mode == 'extract':
        for b in blks:
            for line in b:
                m = re.match(r'^-- \.\.\. more than (\d+) seconds later:', line)
                if m:
                    print("DO $$ BEGIN WHILE clock_timestamp() < (SELECT max(committed_at) "
                          "FROM streamext.columnar_version) + interval '%s seconds' "
                          "LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;" % m.group(1))
                else:
                    print(line)
        return
    output = [norm(l) for l in sys.stdin.read().split('\n')]
    outset = set(output)
    missing = []
    for c in claims(blks):
        if '<' in c and '>' in c:
            rx = re.compile('^' + re.sub(r'<[^>]*>', '.*', re.escape(c).replace(r'\<', '<').replace(r'\>', '>')) + '$')
            ok = any(rx.match(o) for o in output)
        else:
            ok = c in outset
        if not ok:
            missing.append(c)
    claimed_errors = sum(1 for c in claims(blks) if c.startswith('ERROR:'))
    printed_errors = sum(1 for o in output if o.startswith('ERROR:'))
    for c in missing:
        print('not printed: %s' % c)
    if claimed_errors != printed_errors:
        print('the page claims %d errors, psql printed %d' % (claimed_errors, printed_errors))
    print('%d claims checked, %d not printed' % (len(claims(blks)), len(missing)))
    sys.exit(1 if missing or claimed_errors != printed_errors else 0)


main()

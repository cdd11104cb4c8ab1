#!/usr/bin/env python3
"""The longest C functions of the libraries and programs (tests and benchmarks left out), by
lines from the opening line to the closing brace at column 0, and how many pass 100 and 60.
A reviewer's measure (house style: functions well under 100 lines), not a parser.
usage: scripts/funcsize.py [N]   (the N longest; default 20)"""
import re, sys, subprocess
files = subprocess.run(['git', 'ls-files', '*.c', '*.h'], capture_output=True, text=True).stdout.split()
rows = []
for f in files:
    if f.startswith('tests/') or f.startswith('bench/'): continue
    lines = open(f, errors='replace').read().split('\n')
    start = None
    for i, l in enumerate(lines):
        if start is None and re.match(r'^[A-Za-z_].*\)\s*\{\s*$', l) and not l.startswith(('typedef', 'struct', 'enum', 'static const', 'const')) and '=' not in l.split('(')[0]:
            start = i; name = re.findall(r'(\w+)\s*\(', l); name = name[0] if name else '?'
        elif start is not None and l.startswith('}'):
            rows.append((i - start + 1, f, name)); start = None
rows.sort(reverse=True)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
for r in rows[:n]: print('%4d %s %s' % r)
print('functions over 100 lines:', sum(1 for r in rows if r[0] > 100), 'over 60:', sum(1 for r in rows if r[0] > 60), 'of', len(rows))

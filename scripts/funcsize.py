#!/usr/bin/env python3
"""The longest C functions of the libraries and programs (tests and benchmarks left out), by
lines from the first line of the signature to the closing brace at column 0, and how many pass
100 and 60. A signature may span lines; it starts at column 0. A reviewer's measure (house
style: functions well under 100 lines), not a parser.
usage: scripts/funcsize.py [N]   (the N longest; default 20)"""
import re, subprocess, sys

files = subprocess.run(['git', 'ls-files', '*.c', '*.h'], capture_output=True, text=True).stdout.split()
rows = []
for f in files:
    if f.startswith(('tests/', 'bench/')):
        continue
    lines = open(f, errors='replace').read().split('\n')
    start = None   # first line of a function's signature
    sig = None     # a signature being read (it may span lines)
    for i, l in enumerate(lines):
        if start is None:
            if sig is None and re.match(r'^[A-Za-z_]', l) and not l.startswith(('typedef', 'struct', 'enum', '#')):
                sig = i
            if sig is not None:
                text = ' '.join(lines[sig:i + 1])
                if l.rstrip().endswith((';', '}')) or '=' in text.split('(')[0]:
                    sig = None  # a declaration, a one-line function, or data
                elif l.rstrip().endswith('{') and '(' in text:
                    start, name = sig, (re.findall(r'(\w+)\s*\(', text) or ['?'])[0]
                    sig = None
        elif l.startswith('}'):
            rows.append((i - start + 1, f, name))
            start = None
rows.sort(reverse=True)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
for r in rows[:n]:
    print('%4d %s %s' % r)
print('functions over 100 lines: %d, over 60: %d, of %d' %
      (sum(r[0] > 100 for r in rows), sum(r[0] > 60 for r in rows), len(rows)))

#!/usr/bin/env python3
"""The layer check: every `#include "..."` of a layered folder, and every CMake link of its
library, must go to a folder the table in docs/design.md ("Layers", the ```layers block)
allows. Not a style checker: it reads includes and links, nothing else.

usage: check_layers.py [--root DIR] [--inject FILE:HEADER]...
  --inject pretends FILE also includes HEADER (the test that a forbidden edge is caught).
Prints each violation and exits 1 if there is any; else prints a summary and exits 0.
"""
import argparse
import os
import re
import sys

LIBS = {  # CMake library -> the folder it builds
    'fn_ir': 'ir', 'fn_frontend': 'frontend', 'fn_passes': 'passes', 'fn_ref': 'codegen/ref',
    'fn_cpu': 'codegen/cpu', 'fn_llvm': 'codegen/llvm', 'fn_cuda': 'codegen/cuda',
    'fn_interop': 'interop', 'fn_cli': 'cli', 'fn_driver': 'cli',
}


def read_table(root):
    text = open(os.path.join(root, 'docs/design.md')).read()
    m = re.search(r'```layers\n(.*?)```', text, re.S)
    if not m:
        sys.exit('check_layers: docs/design.md has no ```layers block')
    table = {}
    for line in m.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith('#'):
            folder, _, allowed = line.partition(':')
            table[folder.strip()] = set(allowed.split())
    return table


def folder_of(path, folders):
    """The longest layered folder that path (relative to the root) lies in, or None."""
    best = None
    for f in folders:
        if (path == f or path.startswith(f + '/')) and (best is None or len(f) > len(best)):
            best = f
    return best


def allowed(table, src, dst):
    rules = table[src]
    return dst == src or '*' in rules or dst in rules


def check_includes(root, table, injected):
    bad, n = [], 0
    for folder in table:
        d = os.path.join(root, folder)
        for dirpath, _, files in os.walk(d):
            for name in sorted(files):
                if not name.endswith(('.c', '.h')):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if folder_of(rel, table) != folder:
                    continue  # a deeper layered folder checks it
                text = open(os.path.join(root, rel), errors='replace').read()
                heads = re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M) + injected.get(rel, [])
                for h in heads:
                    dst = folder_of(h, table)
                    n += 1
                    if dst and not allowed(table, folder, dst):
                        bad.append(f'{rel}: includes "{h}": {folder} may not depend on {dst}')
    return bad, n


def cmake_links(root):
    """(library, [linked names]) from target_link_libraries and fn_rt_layer(... LINKS ...)."""
    text = open(os.path.join(root, 'CMakeLists.txt')).read()
    text = re.sub(r'#[^\n]*', '', text)
    out = []
    for m in re.finditer(r'target_link_libraries\(\s*(\S+)(.*?)\)', text, re.S):
        out.append((m.group(1), m.group(2).split()))
    for m in re.finditer(r'fn_rt_layer\(\s*(\w+)(.*?)\)', text, re.S):
        words = m.group(2).split()
        links = words[words.index('LINKS') + 1:] if 'LINKS' in words else []
        out.append(('fn_rt_' + m.group(1), links))
    return out


def lib_folder(name):
    if name.startswith('fn_rt_'):
        return 'runtime/' + name[len('fn_rt_'):]
    return LIBS.get(name)


def check_links(root, table):
    bad, n = [], 0
    for lib, links in cmake_links(root):
        src = lib_folder(lib)
        if src not in table:
            continue  # programs, tests, benchmarks
        for l in links:
            dst = 'runtime/*' if l == 'fn_runtime' else lib_folder(l)
            if dst is None:
                continue  # system libraries
            n += 1
            ok = allowed(table, src, dst) if dst != 'runtime/*' else '*' in table[src]
            if not ok:
                bad.append(f'CMakeLists.txt: {lib} links {l}: {src} may not depend on {dst}')
    return bad, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--inject', action='append', default=[])
    a = ap.parse_args()
    table = read_table(a.root)
    injected = {}
    for spec in a.inject:
        f, _, h = spec.partition(':')
        injected.setdefault(f, []).append(h)
    bad_i, n_i = check_includes(a.root, table, injected)
    bad_l, n_l = check_links(a.root, table)
    for b in bad_i + bad_l:
        print(b)
    if bad_i or bad_l:
        print(f'check_layers: {len(bad_i) + len(bad_l)} forbidden edges')
        return 1
    print(f'check_layers: {len(table)} layered folders, {n_i} includes and {n_l} links within the table')
    return 0


if __name__ == '__main__':
    sys.exit(main())

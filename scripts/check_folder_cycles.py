#!/usr/bin/env python3
"""Folder-level include cycles in src/.

Reads every file under src/, takes each `#include "folder/..."` whose first path component is a
folder of src/, and builds the graph folder -> included folder (self-edges ignored). Prints every
strongly connected component with more than one folder, with one include line per edge inside it,
and exits 1 when there is one. Usage: python3 scripts/check_folder_cycles.py [SRC_DIR]
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"/]+)/[^"]+"')


def build_graph(src):
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    edges = {f: {} for f in folders}  # folder -> {included folder: first "file:line"}
    for folder in folders:
        for root, _, files in os.walk(os.path.join(src, folder)):
            for name in sorted(files):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for lineno, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) in edges and m.group(1) != folder:
                            rel = os.path.relpath(path, src)
                            edges[folder].setdefault(m.group(1), "%s:%d" % (rel, lineno))
    return edges


def components(edges):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(sorted(comp))
            elif nxt not in index:
                index[nxt] = low[nxt] = counter[0]
                counter[0] += 1
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(edges[nxt]))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    edges = build_graph(src)
    cycles = [c for c in components(edges) if len(c) > 1]
    n_edges = sum(len(v) for v in edges.values())
    print("folders: %d, folder edges: %d" % (len(edges), n_edges))
    for comp in cycles:
        print("cycle: " + " <-> ".join(comp))
        for a in comp:
            for b in sorted(edges[a]):
                if b in comp:
                    print("  %s -> %s  (%s)" % (a, b, edges[a][b]))
    print("folder cycles: %d" % len(cycles))
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Import circles between the files of a Rust crate.

Reads every `.rs` file under a source folder (test modules excluded: the text
from `#[cfg(test)]` on), resolves `crate::`, `super::` and `self::` paths to the
files that define them, and prints the strongly connected components of the
file graph, largest first. `--max N` exits 1 when a component has more than N
files, so `make test` keeps the layout honest.
"""
import argparse
import os
import re
import sys


def module_path(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib") or (rel[-1] == "main" and len(rel) > 1):
        rel = rel[:-1]
    return tuple(rel)


def strip_tests(text):
    cut = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s", text)
    text = text[: cut.start()] if cut else text
    text = re.sub(r"//[^\n]*", "", text)
    return text


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1 : i]
                parts, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                parts.append(cur)
                out = []
                for p in parts:
                    if p:
                        out += expand_use(prefix + p)
                return out
    return [re.sub(r"\bas\b.*$", "", tree)]


def references(text):
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths += expand_use(m.group(1))
    paths += re.findall(r"\b([a-z_][a-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+)", text)
    paths += re.findall(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", text)
    return paths


def resolve(path, here, modules, is_mod_file):
    parts = path.split("::")
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] in ("super", "self"):
        base = here if is_mod_file else here[:-1]
        if not is_mod_file and parts[0] == "self":
            base = here
        rest = parts[1:]
        if parts[0] == "super":
            base = base[:-1] if is_mod_file else here[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        # A 2018-edition relative path: `use child::Item;` from a module file.
        own = here if is_mod_file else here
        if own + (parts[0],) not in modules:
            return None
        base, rest = own, parts
    best = None
    for n in range(len(rest), -1, -1):
        cand = base + tuple(rest[:n])
        if cand in modules:
            best = cand
            break
    return best


def scc(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--max", type=int)
    args = ap.parse_args()
    files = {}
    for dirpath, _, names in os.walk(args.src):
        for name in names:
            if name.endswith(".rs"):
                p = os.path.join(dirpath, name)
                files[module_path(args.src, p)] = p
    graph = {m: set() for m in files}
    for m, p in files.items():
        is_mod = os.path.basename(p) in ("mod.rs", "lib.rs", "main.rs")
        with open(p, encoding="utf-8") as f:
            text = strip_tests(f.read())
        for ref in references(text):
            target = resolve(ref, m, files, is_mod)
            if target is not None and target != m:
                graph[m].add(target)
    comps = sorted((c for c in scc(graph) if len(c) > 1), key=len, reverse=True)
    name = lambda m: os.path.relpath(files[m], args.src)
    largest = len(comps[0]) if comps else 1
    print(f"{args.src}: largest import circle {largest} file(s)")
    for c in comps:
        print(f"  {len(c)}: " + ", ".join(sorted(name(m) for m in c)))
    if args.max is not None and largest > args.max:
        sys.exit(f"an import circle of {largest} files exceeds {args.max}")


if __name__ == "__main__":
    main()

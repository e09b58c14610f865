#!/usr/bin/env python3
"""What a component is made of: the largest core module's functions by code
size (names from the `name` section of an unstripped build, demangled
roughly), summed by crate, plus data and custom sections.

usage: wasm_size_report.py COMPONENT.wasm [TOP]
"""
import re
import sys
from collections import defaultdict


def leb(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def sections(binary):
    i = 8
    while i < len(binary):
        sid = binary[i]
        size, start = leb(binary, i + 1)
        yield sid, binary[start : start + size]
        i = start + size


def core_modules(component):
    for sid, body in sections(component):
        if sid == 1 and body[:4] == b"\0asm":
            yield body


def demangle(name):
    # Legacy Rust mangling: _ZN<len><ident>...E; keep the readable path.
    if name.startswith("_ZN"):
        parts, i = [], 3
        while i < len(name) and name[i].isdigit():
            j = i
            while name[j].isdigit():
                j += 1
            n = int(name[i:j])
            parts.append(name[j : j + n])
            i = j + n
        parts = [p for p in parts if not re.fullmatch(r"h[0-9a-f]{16}", p)]
        return "::".join(parts).replace("$LT$", "<").replace("$GT$", ">").replace("$u20$", " ").replace("..", "::")
    return name


def report(module, top):
    imported_funcs = 0
    code_sizes, names, totals = [], {}, defaultdict(int)
    for sid, body in sections(module):
        totals[sid] += len(body)
        if sid == 2:  # imports
            count, i = leb(body, 0)
            for _ in range(count):
                for _ in range(2):
                    n, i = leb(body, i)
                    i += n
                kind = body[i]
                i += 1
                if kind == 0:
                    imported_funcs += 1
                    _, i = leb(body, i)
                elif kind == 1:
                    i += 1
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            count, i = leb(body, 0)
            for _ in range(count):
                size, i = leb(body, i)
                code_sizes.append(size)
                i += size
        elif sid == 0:
            n, i = leb(body, 0)
            if body[i : i + n] == b"name":
                j = i + n
                while j < len(body):
                    sub = body[j]
                    size, j = leb(body, j + 1)
                    if sub == 1:
                        count, k = leb(body, j)
                        for _ in range(count):
                            idx, k = leb(body, k)
                            ln, k = leb(body, k)
                            names[idx] = body[k : k + ln].decode(errors="replace")
                            k += ln
                    j += size
    funcs = [(size, demangle(names.get(imported_funcs + i, f"func{imported_funcs + i}"))) for i, size in enumerate(code_sizes)]
    funcs.sort(reverse=True)
    print(f"code {totals[10]} bytes in {len(code_sizes)} functions; data {totals[11]} bytes; "
          f"custom {totals[0]} bytes")
    by_crate = defaultdict(int)
    for size, name in funcs:
        crate = re.sub(r"^<", "", name).split("::")[0] if "::" in name else "(other)"
        by_crate[crate] += size
    print("\nby crate:")
    for crate, size in sorted(by_crate.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {size:>8}  {crate}")
    print(f"\nlargest {top} functions:")
    for size, name in funcs[:top]:
        print(f"  {size:>8}  {name[:110]}")


if __name__ == "__main__":
    data = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    largest = max(core_modules(data), key=len)
    report(largest, top)

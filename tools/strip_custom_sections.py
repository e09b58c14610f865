#!/usr/bin/env python3
"""Removes every custom section (names, producers, component-name) from a
WebAssembly component and the core modules nested in it, as
`wasm-tools strip --all` does. The component runs the same; only debug names
in backtraces are lost (the operator's log then shows function indices).

usage: strip_custom_sections.py IN OUT
"""
import sys

from wasm_size_report import leb

COMPONENT_LAYER = b"\x0d\x00\x01\x00"  # version 0x0d, layer 1
CORE_MODULE_SECTION = 1  # in a component: an embedded core module
NESTED_COMPONENT_SECTION = 4


def enc(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def strip(binary):
    if binary[:4] != b"\0asm":
        raise SystemExit("not a WebAssembly binary")
    is_component = binary[4:8] == COMPONENT_LAYER
    out = bytearray(binary[:8])
    i = 8
    while i < len(binary):
        section = binary[i]
        size, body_start = leb(binary, i + 1)
        body = binary[body_start : body_start + size]
        i = body_start + size
        if section == 0:
            continue
        if is_component and section in (CORE_MODULE_SECTION, NESTED_COMPONENT_SECTION):
            body = strip(body)
        out.append(section)
        out += enc(len(body))
        out += body
    return bytes(out)


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    stripped = strip(data)
    open(dst, "wb").write(stripped)
    print(f"stripped {len(data) - len(stripped)} bytes of custom sections: {len(stripped)} bytes")

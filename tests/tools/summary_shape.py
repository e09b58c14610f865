"""An independent model of the result's `summary` object (README, "The
summary"), used to write the expected results of the summary scenarios. Like
camunda_shape.py it shares no code with the connector: it is written again from
the README's rules, in Python, so a mistake would have to be made twice.
"""

from camunda_shape import opt_float

KINDS_KEPT = {"PAGE", "LINE", "WORD", "SELECTION_ELEMENT", "KEY_VALUE_SET", "TABLE", "CELL", "MERGED_CELL",
              "TABLE_TITLE", "TABLE_FOOTER", "QUERY", "QUERY_RESULT", "SIGNATURE"}
MAX_LAYOUT_DEPTH = 4


def summary(blocks):
    """The summary of a response's blocks (every page's, in order, for a job)."""
    nodes, by_id, pages_seen = [], {}, 0
    for b in blocks:
        kind = b.get("BlockType")
        if kind == "PAGE":
            pages_seen += 1
        if kind not in KINDS_KEPT and not (kind or "").startswith("LAYOUT_"):
            continue
        node = dict(b, _page=b.get("Page", max(pages_seen, 1)))
        nodes.append(node)
        if "Id" in b and b["Id"] not in by_id:
            by_id[b["Id"]] = node
    has_layout = any(n["BlockType"].startswith("LAYOUT_") for n in nodes)

    def related(node, rel, kinds):
        for r in node.get("Relationships") or []:
            if r.get("Type") != rel:
                continue
            for i in r.get("Ids") or []:
                n = by_id.get(i)
                if n is not None and kind_of(n) in kinds:
                    yield n

    def tokens_text(node):
        tokens = []
        for c in related(node, "CHILD", {"WORD", "SELECTION_ELEMENT"}):
            token = c.get("Text") if c["BlockType"] == "WORD" else c.get("SelectionStatus")
            if token is not None:
                tokens.append(token)
        return " ".join(tokens) if tokens else None

    def layout_lines(node, depth):
        lines = []
        for c in related(node, "CHILD", {"LINE", "LAYOUT"}):
            if c["BlockType"] == "LINE":
                lines.append(c.get("Text") or "")
            elif depth < MAX_LAYOUT_DEPTH:
                lines.extend(layout_lines(c, depth + 1))
        return lines

    pages = {}
    for n in nodes:
        if n["BlockType"] in ("PAGE", "LINE") or n["BlockType"].startswith("LAYOUT_"):
            entry = pages.setdefault(n["_page"], {"lines": [], "layout": []})
            if n["BlockType"] == "LINE":
                entry["lines"].append(n.get("Text") or "")
            elif n["BlockType"] != "PAGE":
                lines = layout_lines(n, 0)
                entry["layout"].append({"type": n["BlockType"], "text": "\n".join(lines) if lines else None})
    out_pages = [{"page": p, "lines": pages[p]["lines"], "layout": pages[p]["layout"] if has_layout else None}
                 for p in sorted(pages)]

    key_values = []
    for n in nodes:
        if kind_of(n) != "KEY":
            continue
        values = list(related(n, "VALUE", {"VALUE"}))
        texts = [t for t in (tokens_text(v) for v in values) if t is not None]
        selections = [s for v in values for s in related(v, "CHILD", {"SELECTION_ELEMENT"})]
        key_values.append({
            "key": tokens_text(n),
            "value": " ".join(texts) if texts else None,
            "keyConfidence": opt_float(n.get("Confidence")),
            "valueConfidence": opt_float(values[0].get("Confidence")) if values else None,
            "page": n["_page"],
            "selected": (selections[0].get("SelectionStatus") == "SELECTED") if selections else None,
        })

    tables = []
    for n in nodes:
        if n["BlockType"] != "TABLE":
            continue
        cells = {}
        for c in related(n, "CHILD", {"CELL"}):
            pos = (c.get("RowIndex", 0), c.get("ColumnIndex", 0))
            if pos not in cells:
                cells[pos] = [tokens_text(c) or "", "COLUMN_HEADER" in (c.get("EntityTypes") or [])]
        for m in related(n, "MERGED_CELL", {"MERGED_CELL"}):
            children = list(related(m, "CHILD", {"CELL"}))
            text = " ".join(t for t in (tokens_text(c) for c in children) if t)
            for c in children:
                pos = (c.get("RowIndex", 0), c.get("ColumnIndex", 0))
                if pos in cells:
                    cells[pos][0] = text
        rows_idx = sorted({r for r, _ in cells})
        cols_idx = sorted({c for _, c in cells})
        dense = len(rows_idx) * len(cols_idx) <= len(cells) * 4 + 64
        rows, header_rows = [], []
        for position, r in enumerate(rows_idx, start=1):
            if any(cells[(rr, c)][1] for (rr, c) in cells if rr == r):
                header_rows.append(position)
            if dense:
                rows.append([cells[(r, c)][0] if (r, c) in cells else None for c in cols_idx])
            else:
                rows.append([cells[(r, c)][0] for c in cols_idx if (r, c) in cells])
        titles = [tokens_text(t) or "" for t in related(n, "TABLE_TITLE", {"TABLE_TITLE"})]
        tables.append({
            "page": n["_page"],
            "title": "\n".join(titles) if titles else None,
            "footers": [tokens_text(f) or "" for f in related(n, "TABLE_FOOTER", {"TABLE_FOOTER"})],
            "headerRows": header_rows,
            "rows": rows,
        })

    queries = {}
    for n in nodes:
        if n["BlockType"] != "QUERY":
            continue
        q = n.get("Query") or {}
        text = q.get("Text") or ""
        key = q.get("Alias") if q.get("Alias") is not None else text
        entry = queries.setdefault(key, {"text": text, "answers": []})
        for a in related(n, "ANSWER", {"QUERY_RESULT"}):
            entry["answers"].append({"answer": a.get("Text"), "confidence": opt_float(a.get("Confidence")),
                                     "page": a["_page"]})
    out_queries = {}
    for key, entry in queries.items():
        first = entry["answers"][0] if entry["answers"] else None
        out_queries[key] = {"text": entry["text"],
                            "answer": first["answer"] if first else None,
                            "confidence": first["confidence"] if first else None,
                            "page": first["page"] if first else None,
                            "answers": entry["answers"]}

    signatures = []
    for n in nodes:
        if n["BlockType"] != "SIGNATURE":
            continue
        bb = (n.get("Geometry") or {}).get("BoundingBox")
        signatures.append({
            "page": n["_page"],
            "confidence": opt_float(n.get("Confidence")),
            "boundingBox": None if bb is None else {k.lower(): opt_float(bb.get(k))
                                                    for k in ("Width", "Height", "Left", "Top")},
        })

    return {"pages": out_pages, "keyValues": key_values, "tables": tables, "queries": out_queries,
            "signatures": signatures}


def kind_of(node):
    t = node["BlockType"]
    if t == "KEY_VALUE_SET":
        return "KEY" if "KEY" in (node.get("EntityTypes") or []) else "VALUE"
    if t.startswith("LAYOUT_"):
        return "LAYOUT"
    return t

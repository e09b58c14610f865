#!/usr/bin/env python3
"""Runs amazon-textract-response-parser (module `trp`, AWS's own Python parser,
an implementation independent of the connector) over every real Textract
response and writes expected.json: for each response, the lines of each page,
the key-value pairs, the tables (rows of cell texts, merged cells spread), the
query answers and the signatures that trp finds. tests/summary_oracle.rs
computes the connector's summary of the same responses and must agree field by
field, except for the deliberate differences it names.

.ci/run installs the pinned trp, regenerates expected.json and fails on any
diff, so the committed file can never drift from what trp says.

Usage: python3 tests/summary_oracle/oracle.py [FIXTURES_DIR]
(default: ../shared/fixtures/textract beside the repository when it exists,
else the repository's byte-identical copy in tests/fixtures/textract)
"""

import glob
import json
import os
import sys

import trp
import trp.trp2 as t2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def fixtures_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    shared = os.path.join(ROOT, "..", "shared", "fixtures", "textract")
    return shared if os.path.isdir(shared) else os.path.join(ROOT, "tests", "fixtures", "textract")


def lines_and_forms_and_tables(response):
    """trp (version 1 API): pages in order, numbered from 1."""
    doc = trp.Document(response)
    pages, key_values, tables = [], [], []
    for number, page in enumerate(doc.pages, start=1):
        pages.append({"page": number, "lines": [line.text for line in page.lines]})
        for field in page.form.fields:
            key_values.append({
                "key": field.key.text,
                "value": field.value.text if field.value else None,
                "keyConfidence": field.key.confidence,
                "valueConfidence": field.value.confidence if field.value else None,
                "page": number,
            })
        for table in page.tables:
            header_rows = [row.cells[0].rowIndex for row in table.rows
                           if row.cells and any("COLUMN_HEADER" in c.entityTypes for c in row.cells)]
            tables.append({
                "page": number,
                "headerRows": header_rows,
                "rows": [[cell.mergedText for cell in row.cells] for row in table.rows],
            })
    return pages, key_values, tables


def queries_and_signatures(response):
    """trp2 (the typed API): QUERY blocks with their ANSWER results, SIGNATURE blocks."""
    doc = t2.TDocumentSchema().load(response)
    order = doc.block_id_map()
    queries, signatures = {}, []
    for number, page in enumerate(doc.pages, start=1):
        # trp2 gathers a page's blocks as a set: put them back in response order.
        for query in sorted(doc.queries(page), key=lambda b: order[b.id]):
            key = query.query.alias or query.query.text
            entry = queries.setdefault(key, {"text": query.query.text, "answers": []})
            for answer in doc.get_answers_for_query(query):
                entry["answers"].append({"answer": answer.text, "confidence": answer.confidence, "page": number})
        for signature in sorted(doc.signatures(page), key=lambda b: order[b.id]):
            bb = signature.geometry.bounding_box
            signatures.append({"page": number, "confidence": signature.confidence,
                               "boundingBox": {"width": bb.width, "height": bb.height, "left": bb.left,
                                               "top": bb.top}})
    return queries, signatures


def main():
    folder = fixtures_dir()
    expected = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            response = json.load(f)
        if not response.get("Blocks"):
            continue  # job status bodies (IN_PROGRESS, FAILED): nothing to summarise
        response.pop("ResponseMetadata", None)
        pages, key_values, tables = lines_and_forms_and_tables(response)
        queries, signatures = queries_and_signatures(response)
        expected[os.path.basename(path)] = {"pages": pages, "keyValues": key_values, "tables": tables,
                                            "queries": queries, "signatures": signatures}
    out = os.path.join(HERE, "expected.json")
    with open(out, "w") as f:
        json.dump({"generator": "amazon-textract-response-parser %s" % installed_version(),
                   "responses": expected}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s: %d responses from %s" % (os.path.relpath(out, ROOT), len(expected), folder))


def installed_version():
    from importlib.metadata import version
    return version("amazon-textract-response-parser")


if __name__ == "__main__":
    main()

//! The summary (beyond Camunda, issue 13): the answers a process wants from an
//! analysis, so a BPMN model reads `summary.queries.grossPay.answer` instead of
//! walking `relationships` by id in FEEL. It is built from the blocks alone (no
//! request settings), so SYNC, POLLING and FETCH share it:
//!
//! - `pages`: each page's number, its LINE texts in the order Textract returns
//!   them (its reading order), and its LAYOUT_* sections (`null` when the
//!   response has no layout blocks, i.e. LAYOUT was not asked for);
//! - `keyValues`: each KEY of a KEY_VALUE_SET pair with its VALUE;
//! - `tables`: each TABLE as rows of cell texts, MERGED_CELL text spread over
//!   the cells it covers, the rows holding COLUMN_HEADER cells named in
//!   `headerRows`; a table Textract split across pages stays split;
//! - `queries`: keyed by alias (or the query's text), every answer in order;
//! - `signatures`.
//!
//! Blocks are taken in as a compact owned form ([`Collector::add`]) because a
//! POLLING result arrives in pages whose bodies are dropped once rendered, and a
//! relationship may name a block of a later page. Ids are interned to numbers,
//! only the block types the summary reads are kept, and text is copied once.
//! Numbers are Textract's own, printed as the blocks print them.

use crate::aws::textract::{Block, BoundingBox};
use crate::camunda::output::JsonOut;
use std::collections::HashMap;

/// How deep a LAYOUT section's text follows nested LAYOUT children (a
/// LAYOUT_LIST holds LAYOUT_TEXT blocks); a hostile cycle stops here.
const MAX_LAYOUT_DEPTH: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Line,
    Word,
    Selection,
    Key,
    Value,
    Table,
    Cell,
    MergedCell,
    TableTitle,
    TableFooter,
    Query,
    QueryResult,
    Signature,
    Layout,
}

impl Kind {
    fn of(block: &Block<'_>) -> Option<Kind> {
        let kind = match block.block_type.as_deref()? {
            "PAGE" => Kind::Page,
            "LINE" => Kind::Line,
            "WORD" => Kind::Word,
            "SELECTION_ELEMENT" => Kind::Selection,
            "KEY_VALUE_SET" if has_entity(block, "KEY") => Kind::Key,
            "KEY_VALUE_SET" => Kind::Value,
            "TABLE" => Kind::Table,
            "CELL" => Kind::Cell,
            "MERGED_CELL" => Kind::MergedCell,
            "TABLE_TITLE" => Kind::TableTitle,
            "TABLE_FOOTER" => Kind::TableFooter,
            "QUERY" => Kind::Query,
            "QUERY_RESULT" => Kind::QueryResult,
            "SIGNATURE" => Kind::Signature,
            t if t.starts_with("LAYOUT_") => Kind::Layout,
            _ => return None,
        };
        Some(kind)
    }
}

fn has_entity(block: &Block<'_>, entity: &str) -> bool {
    block
        .entity_types
        .as_deref()
        .is_some_and(|types| types.iter().any(|t| &**t == entity))
}

/// The relationship types the summary follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Child,
    Value,
    Answer,
    MergedCell,
    TableTitle,
    TableFooter,
}

impl Rel {
    fn of(name: &str) -> Option<Rel> {
        Some(match name {
            "CHILD" => Rel::Child,
            "VALUE" => Rel::Value,
            "ANSWER" => Rel::Answer,
            "MERGED_CELL" => Rel::MergedCell,
            "TABLE_TITLE" => Rel::TableTitle,
            "TABLE_FOOTER" => Rel::TableFooter,
            _ => return None,
        })
    }
}

/// What the summary keeps of one block's own fields.
#[derive(Debug)]
enum Data {
    None,
    /// WORD, LINE and QUERY_RESULT text; a SELECTION_ELEMENT's status; a LAYOUT block's type.
    Text(Box<str>),
    Query {
        text: Option<Box<str>>,
        alias: Option<Box<str>>,
    },
    /// CELL and MERGED_CELL: row and column index, and whether it is a column header.
    Cell {
        row: i64,
        column: i64,
        header: bool,
    },
    Signature(Option<Box<BoundingBox>>),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    page: i64,
    confidence: Option<f32>,
    data: Data,
    rels: Vec<(Rel, Box<[u32]>)>,
}

impl Node {
    fn text(&self) -> Option<&str> {
        match &self.data {
            Data::Text(t) => Some(t),
            _ => None,
        }
    }

    fn related(&self, rel: Rel) -> impl Iterator<Item = u32> + '_ {
        self.rels
            .iter()
            .filter(move |(r, _)| *r == rel)
            .flat_map(|(_, ids)| ids.iter().copied())
    }
}

/// The blocks of a response (or of every page of a job), in a compact owned
/// form, ready to be summarised once all have arrived.
#[derive(Debug, Default)]
pub struct Collector {
    /// Block id → interned number.
    ids: HashMap<Box<str>, u32>,
    /// Interned number → the node that carries that id, once seen.
    slots: Vec<Option<u32>>,
    nodes: Vec<Node>,
    /// PAGE blocks seen: the page number of blocks that carry none (SYNC).
    pages_seen: i64,
    /// Whether any LAYOUT_* block arrived (then every page lists its sections).
    layout: bool,
    bytes: usize,
}

impl Collector {
    pub fn new() -> Self {
        Collector::default()
    }

    /// The summary of one response's blocks.
    pub fn of(blocks: &[Block<'_>]) -> Self {
        let mut c = Collector::new();
        c.add(blocks);
        c
    }

    /// About how many bytes the collected blocks take, for the result budget.
    pub fn approx_bytes(&self) -> usize {
        self.bytes
    }

    fn intern(&mut self, id: &str) -> u32 {
        if let Some(n) = self.ids.get(id) {
            return *n;
        }
        let n = self.slots.len() as u32;
        self.ids.insert(id.into(), n);
        self.slots.push(None);
        self.bytes += id.len() + 48;
        n
    }

    /// Takes in the blocks of one response page, in order.
    pub fn add(&mut self, blocks: &[Block<'_>]) {
        for block in blocks {
            if block.block_type.as_deref() == Some("PAGE") {
                self.pages_seen += 1;
            }
            let Some(kind) = Kind::of(block) else { continue };
            let page = block.page.unwrap_or(self.pages_seen.max(1));
            let data = match kind {
                Kind::Word | Kind::Line | Kind::QueryResult => match block.text.as_deref() {
                    Some(t) => Data::Text(t.into()),
                    None => Data::None,
                },
                Kind::Selection => match block.selection_status.as_deref() {
                    Some(s) => Data::Text(s.into()),
                    None => Data::None,
                },
                Kind::Layout => Data::Text(block.block_type.as_deref().unwrap_or_default().into()),
                Kind::Query => Data::Query {
                    text: block.query.as_ref().and_then(|q| q.text.as_deref()).map(Into::into),
                    alias: block.query.as_ref().and_then(|q| q.alias.as_deref()).map(Into::into),
                },
                Kind::Cell | Kind::MergedCell => Data::Cell {
                    row: block.row_index.unwrap_or(0),
                    column: block.column_index.unwrap_or(0),
                    header: has_entity(block, "COLUMN_HEADER"),
                },
                Kind::Signature => Data::Signature(block.geometry.as_ref().and_then(|g| g.bounding_box).map(Box::new)),
                _ => Data::None,
            };
            self.layout |= kind == Kind::Layout;
            self.bytes += std::mem::size_of::<Node>()
                + match &data {
                    Data::Text(t) => t.len(),
                    Data::Query { text, alias } => {
                        text.as_ref().map_or(0, |t| t.len()) + alias.as_ref().map_or(0, |a| a.len())
                    }
                    Data::Signature(Some(_)) => std::mem::size_of::<BoundingBox>(),
                    _ => 0,
                };
            let mut rels = Vec::new();
            // A WORD's or a SELECTION_ELEMENT's relationships are never read.
            if !matches!(kind, Kind::Word | Kind::Selection | Kind::Signature | Kind::QueryResult) {
                for r in block.relationships.as_deref().unwrap_or_default() {
                    let Some(rel) = r.kind.as_deref().and_then(Rel::of) else {
                        continue;
                    };
                    let ids: Box<[u32]> = r
                        .ids
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .map(|id| self.intern(id))
                        .collect();
                    self.bytes += 32 + ids.len() * 4;
                    rels.push((rel, ids));
                }
            }
            let index = self.nodes.len() as u32;
            if let Some(id) = block.id.as_deref() {
                let slot = self.intern(id);
                // The first block with an id keeps it, as a lookup by id finds one block.
                if let Some(entry @ None) = self.slots.get_mut(slot as usize) {
                    *entry = Some(index);
                }
            }
            self.nodes.push(Node {
                kind,
                page,
                confidence: block.confidence,
                data,
                rels,
            });
        }
    }

    fn node(&self, slot: u32) -> Option<&Node> {
        let index = (*self.slots.get(slot as usize)?)?;
        self.nodes.get(index as usize)
    }

    /// The nodes a relationship names, of the kinds given, in order.
    fn related<'s>(&'s self, node: &'s Node, rel: Rel, kinds: &'s [Kind]) -> impl Iterator<Item = &'s Node> + 's {
        node.related(rel)
            .filter_map(|slot| self.node(slot))
            .filter(move |n| kinds.contains(&n.kind))
    }

    /// A block's text from its WORD and SELECTION_ELEMENT children, separated by
    /// single spaces (a selection element reads as its status); `None` when it has none.
    fn child_text(&self, node: &Node) -> Option<String> {
        let mut text: Option<String> = None;
        for child in self.related(node, Rel::Child, &[Kind::Word, Kind::Selection]) {
            let Some(token) = child.text() else { continue };
            match &mut text {
                Some(t) => {
                    t.push(' ');
                    t.push_str(token);
                }
                None => text = Some(token.to_string()),
            }
        }
        text
    }

    /// A LAYOUT block's text: its LINE children (and nested LAYOUT children's), one per line.
    fn layout_text(&self, node: &Node, depth: usize, lines: &mut Vec<String>) {
        for child in self.related(node, Rel::Child, &[Kind::Line, Kind::Layout]) {
            match child.kind {
                Kind::Line => lines.push(child.text().unwrap_or_default().to_string()),
                _ if depth < MAX_LAYOUT_DEPTH => self.layout_text(child, depth + 1, lines),
                _ => {}
            }
        }
    }

    /// Writes `"summary":{...}`.
    pub fn write(&self, out: &mut JsonOut) {
        out.key("summary");
        out.raw("{");
        self.write_pages(out);
        out.raw(",");
        self.write_key_values(out);
        out.raw(",");
        self.write_tables(out);
        out.raw(",");
        self.write_queries(out);
        out.raw(",");
        self.write_signatures(out);
        out.raw("}");
    }

    fn write_pages(&self, out: &mut JsonOut) {
        // Sorted by page, then by arrival: vectors and one sort keep the
        // component smaller than an ordered map would.
        let mut order: Vec<Sorted> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, Kind::Page | Kind::Line | Kind::Layout))
            .map(|(i, n)| ((n.page, 0, i as i64), i as u32))
            .collect();
        order.sort_unstable();
        let mut pages: Vec<(i64, Vec<&Node>, Vec<&Node>)> = Vec::new();
        for node in order.iter().filter_map(|(_, i)| self.nodes.get(*i as usize)) {
            if pages.last().is_none_or(|(page, _, _)| *page != node.page) {
                pages.push((node.page, Vec::new(), Vec::new()));
            }
            if let Some((_, lines, sections)) = pages.last_mut() {
                match node.kind {
                    Kind::Line => lines.push(node),
                    Kind::Layout => sections.push(node),
                    _ => {}
                }
            }
        }
        out.key("pages");
        out.raw("[");
        for (i, (page, lines, sections)) in pages.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.raw("{\"page\":");
            out.int(*page);
            out.raw(",\"lines\":");
            out.raw("[");
            for (j, line) in lines.iter().enumerate() {
                if j > 0 {
                    out.raw(",");
                }
                out.str(line.text().unwrap_or_default());
            }
            out.raw("],\"layout\":");
            if !self.layout {
                out.null();
            } else {
                out.raw("[");
                for (j, section) in sections.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    let mut text = Vec::new();
                    self.layout_text(section, 0, &mut text);
                    out.raw("{\"type\":");
                    out.opt_str(section.text());
                    out.raw(",\"text\":");
                    out.opt_str((!text.is_empty()).then(|| text.join("\n")).as_deref());
                    out.raw("}");
                }
                out.raw("]");
            }
            out.raw("}");
        }
        out.raw("]");
    }

    fn write_key_values(&self, out: &mut JsonOut) {
        out.key("keyValues");
        out.raw("[");
        let mut first = true;
        for key in self.nodes.iter().filter(|n| n.kind == Kind::Key) {
            let values: Vec<&Node> = self.related(key, Rel::Value, &[Kind::Value]).collect();
            let mut value_text: Option<String> = None;
            for text in values.iter().filter_map(|v| self.child_text(v)) {
                match &mut value_text {
                    Some(t) => {
                        t.push(' ');
                        t.push_str(&text);
                    }
                    None => value_text = Some(text),
                }
            }
            let selected = values
                .iter()
                .flat_map(|v| self.related(v, Rel::Child, &[Kind::Selection]))
                .next()
                .map(|s| s.text() == Some("SELECTED"));
            if !first {
                out.raw(",");
            }
            first = false;
            out.raw("{\"key\":");
            out.opt_str(self.child_text(key).as_deref());
            out.raw(",\"value\":");
            out.opt_str(value_text.as_deref());
            out.raw(",\"keyConfidence\":");
            out.opt_f32(key.confidence);
            out.raw(",\"valueConfidence\":");
            out.opt_f32(values.first().and_then(|v| v.confidence));
            out.raw(",\"page\":");
            out.int(key.page);
            out.raw(",\"selected\":");
            match selected {
                Some(s) => out.raw(if s { "true" } else { "false" }),
                None => out.null(),
            }
            out.raw("}");
        }
        out.raw("]");
    }

    fn write_tables(&self, out: &mut JsonOut) {
        out.key("tables");
        out.raw("[");
        let mut first = true;
        for table in self.nodes.iter().filter(|n| n.kind == Kind::Table) {
            if !first {
                out.raw(",");
            }
            first = false;
            let grid = self.grid(table);
            let texts = |rel: Rel, kind: Kind| -> Vec<String> {
                self.related(table, rel, &[kind])
                    .map(|n| self.child_text(n).unwrap_or_default())
                    .collect()
            };
            let titles = texts(Rel::TableTitle, Kind::TableTitle);
            out.raw("{\"page\":");
            out.int(table.page);
            out.raw(",\"title\":");
            out.opt_str((!titles.is_empty()).then(|| titles.join("\n")).as_deref());
            out.raw(",\"footers\":");
            out.opt_str_list(Some(&texts(Rel::TableFooter, Kind::TableFooter)[..]));
            out.raw(",\"headerRows\":");
            out.raw("[");
            for (i, row) in grid.header_rows.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.int(*row as i64);
            }
            out.raw("],\"rows\":");
            out.raw("[");
            for (i, row) in grid.rows.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw("[");
                for (j, cell) in row.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    out.opt_str(cell.as_deref());
                }
                out.raw("]");
            }
            out.raw("]}");
        }
        out.raw("]");
    }

    /// A table's rows of cell texts. Rows are the table's row indexes in order and
    /// columns its column indexes; a position without a CELL is `null`. A grid far
    /// larger than its cells (indexes no real table has) is not filled out: each
    /// row then holds only its own cells.
    fn grid(&self, table: &Node) -> Grid {
        // (row, column, arrival) → the index of its (text, column header); the first
        // CELL at a position counts.
        let mut texts: Vec<(String, bool)> = Vec::new();
        let mut cells: Vec<Sorted> = Vec::new();
        for (i, cell) in self.related(table, Rel::Child, &[Kind::Cell]).enumerate() {
            if let Data::Cell { row, column, header } = cell.data {
                cells.push(((row, column, i as i64), texts.len() as u32));
                texts.push((self.child_text(cell).unwrap_or_default(), header));
            }
        }
        cells.sort_unstable();
        cells.dedup_by_key(|((row, column, _), _)| (*row, *column));
        let find = |row: i64, column: i64| {
            let at = cells
                .binary_search_by_key(&(row, column), |((r, c, _), _)| (*r, *c))
                .ok()?;
            cells.get(at).map(|(_, text)| *text as usize)
        };
        for merged in self.related(table, Rel::MergedCell, &[Kind::MergedCell]) {
            let children: Vec<&Node> = self.related(merged, Rel::Child, &[Kind::Cell]).collect();
            let text = children
                .iter()
                .filter_map(|c| self.child_text(c))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            for child in children {
                if let Data::Cell { row, column, .. } = child.data {
                    if let Some(cell) = find(row, column).and_then(|at| texts.get_mut(at)) {
                        cell.0.clone_from(&text);
                    }
                }
            }
        }
        let mut columns: Vec<Sorted> = cells.iter().map(|((_, c, _), _)| ((*c, 0, 0), 0)).collect();
        columns.sort_unstable();
        columns.dedup();
        let text_of = |(_, at): &Sorted| texts.get(*at as usize);
        // Cells are sorted by row: each row is a run of them.
        let runs: Vec<&[Sorted]> = cells.chunk_by(|a, b| a.0 .0 == b.0 .0).collect();
        let dense = runs.len().saturating_mul(columns.len()) <= cells.len() * 4 + 64;
        let mut rows = Vec::with_capacity(runs.len());
        let mut header_rows = Vec::new();
        for (position, run) in runs.iter().enumerate() {
            if run.iter().filter_map(text_of).any(|(_, header)| *header) {
                header_rows.push(position + 1);
            }
            let row: Vec<Option<String>> = if dense {
                // Both are sorted by column: one pass over each.
                let mut cells = run.iter().peekable();
                columns
                    .iter()
                    .map(|((column, _, _), _)| {
                        cells
                            .next_if(|((_, c, _), _)| c == column)
                            .and_then(text_of)
                            .map(|(t, _)| t.clone())
                    })
                    .collect()
            } else {
                run.iter().filter_map(text_of).map(|(t, _)| Some(t.clone())).collect()
            };
            rows.push(row);
        }
        Grid { rows, header_rows }
    }

    fn write_queries(&self, out: &mut JsonOut) {
        // One entry per alias (or text): a query Textract answers page by page,
        // or asked twice, gathers every answer in order.
        let mut entries: Vec<(&str, &str, Vec<&Node>)> = Vec::new();
        // Keyed as ids are, so the component carries one kind of map.
        let mut by_key: HashMap<Box<str>, u32> = HashMap::new();
        for query in self.nodes.iter().filter(|n| n.kind == Kind::Query) {
            let Data::Query { text, alias } = &query.data else {
                continue;
            };
            let text = text.as_deref().unwrap_or_default();
            let key = alias.as_deref().unwrap_or(text);
            let at = *by_key.entry(key.into()).or_insert_with(|| {
                entries.push((key, text, Vec::new()));
                entries.len() as u32 - 1
            });
            if let Some(entry) = entries.get_mut(at as usize) {
                entry.2.extend(self.related(query, Rel::Answer, &[Kind::QueryResult]));
            }
        }
        out.key("queries");
        out.raw("{");
        for (i, (key, text, answers)) in entries.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.str(key);
            out.raw(":{");
            out.key("text");
            out.str(text);
            out.raw(",");
            let first = answers.first();
            out.key("answer");
            out.opt_str(first.and_then(|a| a.text()));
            out.raw(",\"confidence\":");
            out.opt_f32(first.and_then(|a| a.confidence));
            out.raw(",\"page\":");
            out.opt_int(first.map(|a| a.page));
            out.raw(",\"answers\":");
            out.raw("[");
            for (j, answer) in answers.iter().enumerate() {
                if j > 0 {
                    out.raw(",");
                }
                out.raw("{\"answer\":");
                out.opt_str(answer.text());
                out.raw(",\"confidence\":");
                out.opt_f32(answer.confidence);
                out.raw(",\"page\":");
                out.int(answer.page);
                out.raw("}");
            }
            out.raw("]}");
        }
        out.raw("}");
    }

    fn write_signatures(&self, out: &mut JsonOut) {
        out.key("signatures");
        out.raw("[");
        let mut first = true;
        for signature in self.nodes.iter().filter(|n| n.kind == Kind::Signature) {
            if !first {
                out.raw(",");
            }
            first = false;
            out.raw("{\"page\":");
            out.int(signature.page);
            out.raw(",\"confidence\":");
            out.opt_f32(signature.confidence);
            out.raw(",\"boundingBox\":");
            match &signature.data {
                Data::Signature(Some(bb)) => {
                    out.raw("{\"width\":");
                    out.opt_f32(bb.width);
                    out.raw(",\"height\":");
                    out.opt_f32(bb.height);
                    out.raw(",\"left\":");
                    out.opt_f32(bb.left);
                    out.raw(",\"top\":");
                    out.opt_f32(bb.top);
                    out.raw("}");
                }
                _ => out.null(),
            }
            out.raw("}");
        }
        out.raw("]");
    }
}

/// What the summary sorts: (page or row, column, arrival) and an index. One
/// type for every sort, as each sorted type adds its own sort code to the component.
type Sorted = ((i64, i64, i64), u32);

struct Grid {
    rows: Vec<Vec<Option<String>>>,
    /// 1-based positions in `rows` of the rows that hold a COLUMN_HEADER cell.
    header_rows: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::textract::{parse_body, AnalyzeDocumentResponse};
    use serde_json::{json, Value};

    /// Collects `pages` of blocks one `add` at a time, as POLLING does, and
    /// returns the summary as JSON.
    fn summarise(pages: &[Value]) -> Value {
        let bodies: Vec<Vec<u8>> = pages
            .iter()
            .map(|blocks| json!({ "Blocks": blocks }).to_string().into_bytes())
            .collect();
        let mut collector = Collector::new();
        for body in &bodies {
            let parsed: AnalyzeDocumentResponse = parse_body("AnalyzeDocument", body).unwrap();
            collector.add(parsed.blocks.as_deref().unwrap_or_default());
        }
        let mut out = JsonOut::with_capacity(256);
        out.raw("{");
        collector.write(&mut out);
        out.raw("}");
        serde_json::from_str::<Value>(&out.buf).unwrap()["summary"].clone()
    }

    fn word(id: &str, text: &str) -> Value {
        json!({"BlockType": "WORD", "Id": id, "Text": text, "Confidence": 99.5})
    }

    fn child(ids: &[&str]) -> Value {
        json!([{"Type": "CHILD", "Ids": ids}])
    }

    #[test]
    fn an_empty_response_has_every_field() {
        assert_eq!(
            summarise(&[json!([])]),
            json!({"pages": [], "keyValues": [], "tables": [], "queries": {}, "signatures": []})
        );
    }

    #[test]
    fn pages_and_lines_without_page_numbers_follow_the_page_blocks() {
        // SYNC responses carry no `Page`: a block belongs to the PAGE before it.
        let s = summarise(&[json!([
            {"BlockType": "PAGE", "Id": "p1"},
            {"BlockType": "LINE", "Id": "l1", "Text": "Pay stub"},
            {"BlockType": "LINE", "Id": "l2", "Text": "Gross \"pay\""},
            {"BlockType": "PAGE", "Id": "p2"},
            {"BlockType": "PAGE", "Id": "p3"},
            {"BlockType": "LINE", "Id": "l3", "Text": "Page three"},
            {"BlockType": "SOMETHING_NEW", "Id": "x"}
        ])]);
        assert_eq!(
            s["pages"],
            json!([
                {"page": 1, "lines": ["Pay stub", "Gross \"pay\""], "layout": null},
                {"page": 2, "lines": [], "layout": null},
                {"page": 3, "lines": ["Page three"], "layout": null}
            ])
        );
    }

    #[test]
    fn layout_sections_list_their_lines_in_order() {
        let s = summarise(&[json!([
            {"BlockType": "PAGE", "Id": "p", "Page": 2},
            {"BlockType": "LAYOUT_TITLE", "Id": "t", "Page": 2, "Relationships": child(&["l1"])},
            {"BlockType": "LAYOUT_LIST", "Id": "list", "Page": 2, "Relationships": child(&["item", "l3"])},
            {"BlockType": "LAYOUT_TEXT", "Id": "item", "Page": 2, "Relationships": child(&["l2"])},
            {"BlockType": "LAYOUT_FIGURE", "Id": "fig", "Page": 2},
            // A cycle (a hostile response) ends at the depth limit.
            {"BlockType": "LAYOUT_TEXT", "Id": "loop", "Page": 2, "Relationships": child(&["loop", "l1"])},
            {"BlockType": "LINE", "Id": "l1", "Text": "Title", "Page": 2},
            {"BlockType": "LINE", "Id": "l2", "Text": "First item", "Page": 2},
            {"BlockType": "LINE", "Id": "l3", "Text": "Second item", "Page": 2}
        ])]);
        assert_eq!(
            s["pages"][0]["layout"],
            json!([
                {"type": "LAYOUT_TITLE", "text": "Title"},
                {"type": "LAYOUT_LIST", "text": "First item\nSecond item"},
                {"type": "LAYOUT_TEXT", "text": "First item"},
                {"type": "LAYOUT_FIGURE", "text": null},
                {"type": "LAYOUT_TEXT", "text": "Title\nTitle\nTitle\nTitle\nTitle"}
            ])
        );
        assert_eq!(s["pages"][0]["page"], 2);
    }

    #[test]
    fn key_values_pair_keys_with_values_across_response_pages() {
        // The VALUE and the words arrive in a later GetDocumentAnalysis page.
        let first = json!([
            {"BlockType": "PAGE", "Id": "p", "Page": 1},
            {"BlockType": "KEY_VALUE_SET", "Id": "k1", "EntityTypes": ["KEY"], "Confidence": 91.25, "Page": 1,
             "Relationships": [{"Type": "VALUE", "Ids": ["v1"]}, {"Type": "CHILD", "Ids": ["w1", "w2"]}]},
            {"BlockType": "KEY_VALUE_SET", "Id": "k2", "EntityTypes": ["KEY"], "Confidence": 80.0, "Page": 1,
             "Relationships": [{"Type": "VALUE", "Ids": ["v2"]}, {"Type": "CHILD", "Ids": ["w3"]}]},
            {"BlockType": "KEY_VALUE_SET", "Id": "k3", "EntityTypes": ["KEY"], "Confidence": 70.5, "Page": 1,
             "Relationships": [{"Type": "VALUE", "Ids": ["v3"]}, {"Type": "CHILD", "Ids": ["w5"]}]},
            {"BlockType": "KEY_VALUE_SET", "Id": "k4", "EntityTypes": ["KEY"], "Confidence": 60.0, "Page": 1}
        ]);
        let second = json!([
            {"BlockType": "KEY_VALUE_SET", "Id": "v1", "EntityTypes": ["VALUE"], "Confidence": 90.5, "Page": 1,
             "Relationships": child(&["w4"])},
            {"BlockType": "KEY_VALUE_SET", "Id": "v2", "EntityTypes": ["VALUE"], "Confidence": 88.0, "Page": 1,
             "Relationships": child(&["s1"])},
            {"BlockType": "KEY_VALUE_SET", "Id": "v3", "EntityTypes": ["VALUE"], "Confidence": 100.0, "Page": 1},
            word("w1", "Gross"), word("w2", "pay:"), word("w3", "Married"), word("w4", "452.43"), word("w5", "Notes"),
            {"BlockType": "SELECTION_ELEMENT", "Id": "s1", "SelectionStatus": "NOT_SELECTED", "Confidence": 97.0}
        ]);
        let s = summarise(&[first, second]);
        assert_eq!(
            s["keyValues"],
            json!([
                {"key": "Gross pay:", "value": "452.43", "keyConfidence": 91.25, "valueConfidence": 90.5,
                 "page": 1, "selected": null},
                {"key": "Married", "value": "NOT_SELECTED", "keyConfidence": 80.0, "valueConfidence": 88.0,
                 "page": 1, "selected": false},
                {"key": "Notes", "value": null, "keyConfidence": 70.5, "valueConfidence": 100.0,
                 "page": 1, "selected": null},
                {"key": null, "value": null, "keyConfidence": 60.0, "valueConfidence": null,
                 "page": 1, "selected": null}
            ])
        );
    }

    fn cell(id: &str, row: i64, column: i64, words: &[&str], header: bool) -> Value {
        let mut c = json!({"BlockType": "CELL", "Id": id, "RowIndex": row, "ColumnIndex": column,
                           "RowSpan": 1, "ColumnSpan": 1, "Confidence": 90.0, "Relationships": child(words)});
        if header {
            c["EntityTypes"] = json!(["COLUMN_HEADER"]);
        }
        c
    }

    #[test]
    fn tables_spread_merged_cells_and_mark_header_rows() {
        let s = summarise(&[json!([
            {"BlockType": "PAGE", "Id": "p"},
            {"BlockType": "TABLE", "Id": "t", "Relationships": [
                {"Type": "CHILD", "Ids": ["c11", "c12", "c13", "c21", "c22", "c23", "c31", "c33"]},
                {"Type": "MERGED_CELL", "Ids": ["m"]},
                {"Type": "TABLE_TITLE", "Ids": ["title"]},
                {"Type": "TABLE_FOOTER", "Ids": ["f1", "f2"]}]},
            cell("c11", 1, 1, &["w1"], true), cell("c12", 1, 2, &["w2"], true), cell("c13", 1, 3, &[], true),
            cell("c21", 2, 1, &["w3", "w4"], false), cell("c22", 2, 2, &[], false), cell("c23", 2, 3, &["w5"], false),
            cell("c31", 3, 1, &["w6"], false), cell("c33", 3, 3, &[], false),
            {"BlockType": "MERGED_CELL", "Id": "m", "RowIndex": 1, "ColumnIndex": 2, "RowSpan": 1, "ColumnSpan": 2,
             "Relationships": child(&["c12", "c13"])},
            {"BlockType": "TABLE_TITLE", "Id": "title", "Relationships": child(&["w7", "w8"])},
            {"BlockType": "TABLE_FOOTER", "Id": "f1", "Relationships": child(&["w9"])},
            {"BlockType": "TABLE_FOOTER", "Id": "f2"},
            word("w1", "Item"), word("w2", "Amount"), word("w3", "Gross"), word("w4", "pay"), word("w5", "452.43"),
            word("w6", "Net"), word("w7", "Earnings"), word("w8", "2026"), word("w9", "Totals")
        ])]);
        assert_eq!(
            s["tables"],
            json!([{
                "page": 1,
                "title": "Earnings 2026",
                "footers": ["Totals", ""],
                "headerRows": [1],
                "rows": [["Item", "Amount", "Amount"], ["Gross pay", "", "452.43"], ["Net", null, ""]]
            }])
        );
    }

    #[test]
    fn a_table_far_larger_than_its_cells_is_not_filled_out() {
        // Two cells a million rows and columns apart: rows and columns are the
        // indexes that occur, so the gaps are two nulls, not a million.
        let s = summarise(&[json!([
            {"BlockType": "TABLE", "Id": "t", "Page": 4, "Relationships": child(&["a", "b"])},
            cell("a", 1, 1, &["w1"], false),
            cell("b", 1_000_000, 1_000_000, &["w2"], true),
            word("w1", "top"), word("w2", "far")
        ])]);
        assert_eq!(s["tables"][0]["rows"], json!([["top", null], [null, "far"]]));
        assert_eq!(s["tables"][0]["headerRows"], json!([2]));
        assert_eq!(s["tables"][0]["page"], 4);

        // 40 cells on a diagonal would be a 40 x 40 grid of nulls: each row keeps its own cell.
        let mut blocks = vec![json!({"BlockType": "TABLE", "Id": "t",
            "Relationships": [{"Type": "CHILD", "Ids": (0..40).map(|i| format!("c{i}")).collect::<Vec<_>>()}]})];
        blocks.extend((0..40).map(|i| cell(&format!("c{i}"), i + 1, i + 1, &[], false)));
        let s = summarise(&[Value::Array(blocks)]);
        assert_eq!(s["tables"][0]["rows"], json!(vec![vec![""]; 40]));
    }

    #[test]
    fn queries_are_keyed_by_alias_or_text_and_keep_every_answer() {
        let query = |id: &str, page: i64, text: &str, alias: Option<&str>, answers: &[&str]| {
            let mut q = json!({"BlockType": "QUERY", "Id": id, "Page": page, "Query": {"Text": text}});
            if let Some(alias) = alias {
                q["Query"]["Alias"] = json!(alias);
            }
            if !answers.is_empty() {
                q["Relationships"] = json!([{"Type": "ANSWER", "Ids": answers}]);
            }
            q
        };
        let result = |id: &str, page: i64, text: &str, confidence: f64| json!({"BlockType": "QUERY_RESULT", "Id": id, "Page": page, "Text": text, "Confidence": confidence});
        let s = summarise(&[
            json!([
                query("q1", 1, "What is the gross pay?", Some("gross"), &["r1"]),
                query("q2", 1, "Who is the employee?", None, &[]),
                result("r1", 1, "$ 452.43", 95.0)
            ]),
            json!([
                // The same query on page 2 (pages ["*"]) adds its answers to the same entry.
                query("q3", 2, "What is the gross pay?", Some("gross"), &["r2", "r3"]),
                result("r2", 2, "452.43", 61.5),
                result("r3", 2, "450.00", 12.25)
            ]),
        ]);
        assert_eq!(
            s["queries"],
            json!({
                "gross": {"text": "What is the gross pay?", "answer": "$ 452.43", "confidence": 95.0, "page": 1,
                          "answers": [{"answer": "$ 452.43", "confidence": 95.0, "page": 1},
                                      {"answer": "452.43", "confidence": 61.5, "page": 2},
                                      {"answer": "450.00", "confidence": 12.25, "page": 2}]},
                "Who is the employee?": {"text": "Who is the employee?", "answer": null, "confidence": null,
                                         "page": null, "answers": []}
            })
        );
    }

    #[test]
    fn signatures_keep_textracts_numbers() {
        let s = summarise(&[json!([
            {"BlockType": "PAGE", "Id": "p", "Page": 1},
            {"BlockType": "SIGNATURE", "Id": "s1", "Page": 1, "Confidence": 80.82296,
             "Geometry": {"BoundingBox": {"Width": 0.3476354, "Height": 0.060826555, "Left": 0.54268914,
                                          "Top": 0.86053246}}},
            {"BlockType": "SIGNATURE", "Id": "s2", "Page": 1}
        ])]);
        // As the blocks print them: 32-bit floats in Java's spelling.
        let mut out = JsonOut::with_capacity(64);
        out.opt_f32(Some(0.060_826_555));
        assert_eq!(out.buf, "0.060826555");
        assert_eq!(
            s["signatures"],
            json!([
                {"page": 1, "confidence": 80.82296,
                 "boundingBox": {"width": 0.3476354, "height": 0.060826555, "left": 0.54268914, "top": 0.86053246}},
                {"page": 1, "confidence": null, "boundingBox": null}
            ])
        );
    }

    #[test]
    fn the_collected_size_grows_with_the_blocks() {
        let mut c = Collector::new();
        assert_eq!(c.approx_bytes(), 0);
        let body = json!({"Blocks": [word("w1", "hello"), {"BlockType": "SOMETHING_NEW", "Id": "x"}]}).to_string();
        let parsed: AnalyzeDocumentResponse = parse_body("AnalyzeDocument", body.as_bytes()).unwrap();
        c.add(parsed.blocks.as_deref().unwrap_or_default());
        // One node (the unknown type is not kept) and its interned id.
        assert_eq!(
            c.approx_bytes(),
            std::mem::size_of::<Node>() + "hello".len() + "w1".len() + 48
        );
    }
}

//! The structure of a CSV file, checked before Polars reads it. Polars' reader trusts the file: it reads
//! CR-only line ends as one line, blank lines as rows of nulls, and fails the whole read on a ragged row or
//! an unclosed quote. This pass finds each record the way RFC 4180 does (quoted fields may hold delimiters
//! and line breaks), so that no row is dropped, merged or invented: blank lines are skipped and counted,
//! records with the wrong number of fields are reported by line, and a file that needs any of that is
//! rewritten (good records only, LF line ends, each with its data row) for Polars to read.

use std::io::Write;

/// How many bytes of a bad line a message quotes.
pub const EXCERPT_BYTES: usize = 160;

pub use crate::error::Malformed;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineEnds {
    pub lf: u64,
    pub crlf: u64,
    pub cr: u64,
}

/// What the pass found in one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    /// Fields of the header (the first non-blank line).
    pub header_fields: usize,
    /// Data records read, well-formed or not (blank lines are not records).
    pub records: u64,
    pub blank_lines: u64,
    pub line_ends: LineEnds,
    pub has_bom: bool,
    /// The header names a column as the run names its own (`__row`, `__file`): renamed in the rewritten copy.
    pub reserved_names: bool,
    pub malformed: Vec<Malformed>,
}

impl Shape {
    /// Polars cannot read the file as it is without losing or inventing rows.
    pub fn needs_rewrite(&self) -> bool {
        self.blank_lines > 0
            || !self.malformed.is_empty()
            || self.line_ends.cr > 0
            || self.has_bom
            || self.reserved_names
    }
}

/// Line breaks one quoted field may hold; beyond, the quote is taken as stray.
const MAX_QUOTED_LINES: u64 = 10_000;

/// One record: its byte range (without the line end), first line, and what was wrong with it.
struct Record {
    start: usize,
    end: usize,
    /// Where the next record starts.
    next: usize,
    line: u64,
    /// Byte range of the record's first physical line (for re-reading a broken multi-line record).
    first_line_end: usize,
    first_line_next: usize,
    lines: u64,
    fields: usize,
    unclosed_quote: bool,
}

/// A file's line end, decided from the whole file: LF (a CR before it belongs to it: CRLF), or a lone CR in
/// a file without any LF. Every other CR is data, as DuckDB and Python read it: a tweet with `\r\r` in it,
/// or a quoted comment with a bare CR, is one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Newline {
    Lf,
    CrOnly,
}

impl Newline {
    fn of(bytes: &[u8]) -> Newline {
        match memchr::memchr(b'\n', bytes).is_none() && memchr::memchr(b'\r', bytes).is_some() {
            true => Newline::CrOnly,
            false => Newline::Lf,
        }
    }

    fn byte(self) -> u8 {
        match self {
            Newline::Lf => b'\n',
            Newline::CrOnly => b'\r',
        }
    }

    /// The end of a line whose line-end byte is at `eol` (without the CR of a CRLF), and where the next starts.
    fn bounds(self, bytes: &[u8], line_start: usize, eol: usize) -> (usize, usize) {
        let next = if eol < bytes.len() { eol + 1 } else { eol };
        let crlf = self == Newline::Lf && eol < bytes.len() && eol > line_start && bytes[eol - 1] == b'\r';
        (if crlf { eol - 1 } else { eol }, next)
    }

    /// Line ends in `bytes`.
    fn count(self, bytes: &[u8]) -> u64 {
        memchr::memchr_iter(self.byte(), bytes).count() as u64
    }
}

/// Reads the record starting at `pos`.
fn record(bytes: &[u8], pos: usize, line: u64, delimiter: u8, quote: u8, newline: Newline) -> Record {
    // Most lines hold no quote: their fields are counted with SIMD searches, not byte by byte.
    let eol = memchr::memchr(newline.byte(), &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
    if memchr::memchr(quote, &bytes[pos..eol]).is_none() {
        let (end, next) = newline.bounds(bytes, pos, eol);
        return Record {
            start: pos,
            end,
            next,
            line,
            first_line_end: end,
            first_line_next: next,
            lines: 1,
            fields: 1 + memchr::memchr_iter(delimiter, &bytes[pos..end]).count(),
            unclosed_quote: false,
        };
    }
    quoted_record(bytes, pos, line, delimiter, quote, newline)
}

/// `record` for a line with a quote (RFC 4180: a quoted field may hold delimiters, doubled quotes and line
/// ends), jumping from one special byte to the next.
fn quoted_record(bytes: &[u8], pos: usize, line: u64, delimiter: u8, quote: u8, newline: Newline) -> Record {
    let mut i = pos;
    let mut fields = 1;
    let mut lines = 1;
    // The end of the record's first physical line, once a quoted field has crossed it.
    let mut first_line: Option<(usize, usize)> = None;
    let done = |end: usize, next: usize, fields, lines, first_line: Option<(usize, usize)>, unclosed| {
        let (first_line_end, first_line_next) = first_line.unwrap_or((end, next));
        Record { start: pos, end, next, line, first_line_end, first_line_next, lines, fields, unclosed_quote: unclosed }
    };
    loop {
        if bytes.get(i) == Some(&quote) {
            // A quoted field: up to the quote that is not doubled.
            let mut j = i + 1;
            let closing = loop {
                match memchr::memchr(quote, &bytes[j..]) {
                    Some(k) if bytes.get(j + k + 1) == Some(&quote) => j += k + 2,
                    Some(k) => break Some(j + k),
                    None => break None,
                }
            };
            let span = &bytes[i..closing.unwrap_or(bytes.len())];
            let breaks = newline.count(span);
            if breaks > 0 && first_line.is_none() {
                let at = i + memchr::memchr(newline.byte(), span).unwrap_or(0);
                first_line = Some(newline.bounds(bytes, pos, at));
            }
            lines += breaks;
            match closing {
                // A stray quote, not a comment: the record would swallow the rest of the file.
                Some(_) if breaks >= MAX_QUOTED_LINES => return done(i, i, fields, lines, first_line, true),
                Some(q) => i = q + 1,
                None => return done(bytes.len(), bytes.len(), fields, lines, first_line, true),
            }
        }
        // Unquoted text (or what follows a closing quote, kept as written) up to a delimiter or a line end.
        match memchr::memchr2(delimiter, newline.byte(), &bytes[i..]) {
            Some(k) if bytes[i + k] == delimiter => {
                fields += 1;
                i += k + 1;
            },
            Some(k) => {
                let (end, next) = newline.bounds(bytes, pos, i + k);
                return done(end, next, fields, lines, first_line, false);
            },
            None => return done(bytes.len(), bytes.len(), fields, lines, first_line, false),
        }
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > EXCERPT_BYTES {
        text.push('…');
    }
    text
}

/// Walks the file's records, calling `keep(line, bytes)` for the header (line of the header, 0 as its data
/// row) and each well-formed data record. Returns the shape.
fn walk(bytes: &[u8], delimiter: u8, quote: u8, mut keep: impl FnMut(u64, &[u8])) -> Shape {
    let mut shape = Shape::default();
    let mut pos = 0;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        shape.has_bom = true;
        pos = 3;
    }
    let mut line = 1;
    let mut header: Option<usize> = None;
    let newline = Newline::of(bytes);
    while pos < bytes.len() {
        let r = record(bytes, pos, line, delimiter, quote, newline);
        let ending = &bytes[r.end..r.next];
        match ending {
            b"\n" => shape.line_ends.lf += 1,
            b"\r\n" => shape.line_ends.crlf += 1,
            b"\r" => shape.line_ends.cr += 1,
            _ => {},
        }
        if r.end == r.start {
            // Nothing on the line: a blank line, not a record.
            if header.is_some() {
                shape.blank_lines += 1;
            }
            pos = r.next;
            line += 1;
            continue;
        }
        let Some(expected) = header else {
            header = Some(r.fields);
            shape.header_fields = r.fields;
            let header = &bytes[r.start..r.end];
            shape.reserved_names = fields(header, delimiter, quote).any(|f| super::is_reserved(unquoted(f, quote)));
            keep(0, &bytes[r.start..r.end]);
            pos = r.next;
            line += r.lines;
            continue;
        };
        shape.records += 1;
        if r.fields == expected && !r.unclosed_quote {
            keep(r.line, &bytes[r.start..r.end]);
            pos = r.next;
            line += r.lines;
            continue;
        }
        if r.lines > 1 {
            // A record that swallowed the lines after it (an unclosed quote, usually): only its first line is
            // bad; the lines after it are read again as records of their own.
            let first = &bytes[r.start..r.first_line_end];
            shape.malformed.push(Malformed {
                line: r.line,
                problem: "a quote opened on this line is not closed before the next line".into(),
                excerpt: excerpt(first),
            });
            pos = r.first_line_next;
            line += 1;
            continue;
        }
        let problem = if r.unclosed_quote {
            "a quote opened on this line is never closed".to_string()
        } else {
            format!("{} field(s) where the header has {expected}", r.fields)
        };
        shape.malformed.push(Malformed { line: r.line, problem, excerpt: excerpt(&bytes[r.start..r.end]) });
        pos = r.next;
        line += 1;
    }
    shape
}

/// The shape of a CSV file's bytes.
pub fn shape(bytes: &[u8], delimiter: u8, quote: u8) -> Shape {
    walk(bytes, delimiter, quote, |_, _| {})
}

/// Name of the column a rewritten file carries in front of its own: the record's data row, counted as
/// lines of the original file (header line = row 0).
pub const ROW_COLUMN: &str = "__row";

/// Writes the file's header and well-formed records to `out` with LF line ends, each preceded by its data
/// row (`ROW_COLUMN`), so that messages about the rewritten file still point into the original.
pub fn rewrite(bytes: &[u8], delimiter: u8, quote: u8, out: &mut impl Write) -> std::io::Result<Shape> {
    let mut failed: Option<std::io::Error> = None;
    let shape = walk(bytes, delimiter, quote, |line, record| {
        if failed.is_some() {
            return;
        }
        let row = if line == 0 { ROW_COLUMN.to_string() } else { (line - 1).to_string() };
        let escaped;
        let record = match line {
            0 => {
                escaped = escaped_header(record, delimiter, quote);
                &escaped[..]
            },
            _ => record,
        };
        let written = out
            .write_all(row.as_bytes())
            .and_then(|_| out.write_all(&[delimiter]))
            .and_then(|_| out.write_all(record))
            .and_then(|_| out.write_all(b"\n"));
        if let Err(e) = written {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(shape),
    }
}

/// The fields of one record, as written (quotes kept).
fn fields(record: &[u8], delimiter: u8, quote: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut start = 0;
    let mut bounds = Vec::new();
    for (i, b) in record.iter().enumerate() {
        if *b == quote {
            quoted = !quoted;
        } else if *b == delimiter && !quoted {
            bounds.push((start, i));
            start = i + 1;
        }
    }
    bounds.push((start, record.len()));
    bounds.into_iter().map(move |(a, b)| &record[a..b])
}

/// A header field's text without its quotes.
fn unquoted(field: &[u8], quote: u8) -> &str {
    let inner = match field {
        [q, inner @ .., e] if *q == quote && *e == quote => inner,
        other => other,
    };
    std::str::from_utf8(inner).unwrap_or("")
}

/// The header with each column named like one of the run's own renamed (`read::file_column`).
fn escaped_header(record: &[u8], delimiter: u8, quote: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + 16);
    for (i, field) in fields(record, delimiter, quote).enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let name = unquoted(field, quote);
        match (super::is_reserved(name), field.first() == Some(&quote)) {
            (true, true) => out.extend([&[quote][..], super::file_column(name).as_bytes(), &[quote]].concat()),
            (true, false) => out.extend_from_slice(super::file_column(name).as_bytes()),
            (false, _) => out.extend_from_slice(field),
        }
    }
    out
}

/// The first byte that is not UTF-8, as (line, excerpt of that line), or `None`.
pub fn invalid_utf8(bytes: &[u8]) -> Option<(u64, usize, String)> {
    let err = simdutf8::compat::from_utf8(bytes).err()?;
    let at = err.valid_up_to();
    let newline = Newline::of(bytes);
    let line_start = memchr::memrchr(newline.byte(), &bytes[..at]).map(|i| i + 1).unwrap_or(0);
    let line = 1 + newline.count(&bytes[..at]);
    let eol = memchr::memchr(newline.byte(), &bytes[at..]).map(|i| at + i).unwrap_or(bytes.len());
    let (line_end, _) = newline.bounds(bytes, line_start, eol);
    Some((line, at, excerpt(&bytes[line_start..line_end])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_kept(text: &str) -> (Shape, Vec<(u64, String)>) {
        let mut kept = Vec::new();
        let shape = walk(text.as_bytes(), b',', b'"', |l, r| kept.push((l, String::from_utf8_lossy(r).into())));
        (shape, kept)
    }

    #[test]
    fn lf_crlf_and_cr_line_ends_give_the_same_records() {
        for end in ["\n", "\r\n", "\r"] {
            let text = ["id,at", "1,a", "2,b", "3,c", ""].join(end);
            let (shape, kept) = lines_kept(&text);
            assert_eq!(shape.records, 3, "{end:?}");
            assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 2, 3, 4]);
            assert_eq!(shape.needs_rewrite(), end == "\r");
        }
    }

    #[test]
    fn a_bare_cr_in_a_file_with_lf_line_ends_is_data() {
        for end in ["\n", "\r\n"] {
            let text = ["id,text", "1,\"one\rtwo\"", "2,tweet\r\rwith returns", "3,last", ""].join(end);
            let (shape, kept) = lines_kept(&text);
            assert_eq!(shape.records, 3, "{end:?}");
            assert!(shape.malformed.is_empty() && !shape.needs_rewrite(), "{end:?}");
            let records: Vec<&str> = kept.iter().map(|k| k.1.as_str()).collect();
            assert_eq!(records, ["id,text", "1,\"one\rtwo\"", "2,tweet\r\rwith returns", "3,last"], "{end:?}");
            assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 2, 3, 4]);
        }
    }

    #[test]
    fn blank_lines_are_counted_not_read() {
        let (shape, kept) = lines_kept("id,at\n1,a\n\n\n2,b\n3,c\n");
        assert_eq!((shape.records, shape.blank_lines), (3, 2));
        assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 2, 5, 6]);
    }

    #[test]
    fn quoted_fields_may_hold_delimiters_and_line_breaks() {
        let (shape, kept) = lines_kept("id,comment\n1,\"a, b\nand \"\"c\"\"\"\n2,x\n");
        assert_eq!(shape.records, 2);
        assert!(shape.malformed.is_empty());
        assert_eq!(kept[1], (2, "1,\"a, b\nand \"\"c\"\"\"".to_string()));
        assert_eq!(kept[2].0, 4);
    }

    #[test]
    fn ragged_rows_are_malformed_with_their_line() {
        let (shape, kept) = lines_kept("id,at,who\n1,a,x\n2,b,y,EXTRA\n3,c\n4,d,z\n");
        assert_eq!(shape.records, 4);
        assert_eq!(shape.malformed.iter().map(|m| m.line).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(shape.malformed[0].problem, "4 field(s) where the header has 3");
        assert_eq!(kept.len(), 3);
    }

    #[test]
    fn an_unclosed_quote_costs_one_line_not_the_rest_of_the_file() {
        let (shape, kept) = lines_kept("id,at\n1,a\n2,\"b\n3,c\n4,d\n");
        assert_eq!(shape.records, 4);
        assert_eq!(shape.malformed.len(), 1);
        assert_eq!(shape.malformed[0].line, 3);
        assert_eq!(shape.malformed[0].excerpt, "2,\"b");
        assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 2, 4, 5]);
    }

    #[test]
    fn a_stray_quote_among_quoted_fields_costs_its_line() {
        // The next lines' empty quoted fields pair up with the stray quote; the record it opens ends with the
        // wrong field count, so only its first line is bad.
        let (shape, kept) = lines_kept("id,tags,n\n1,\"\",1\n2,\"b,1\n3,\"\",1\n4,\"x, y\",1\n");
        assert_eq!(shape.malformed.iter().map(|m| m.line).collect::<Vec<_>>(), [3]);
        assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 2, 4, 5]);
        assert_eq!(shape.records, 4);
    }

    #[test]
    fn rewrite_prefixes_rows_and_uses_lf() {
        let mut out = Vec::new();
        let shape = rewrite(b"\xEF\xBB\xBFid,at\r1,a\r\r2,b\r", b',', b'"', &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "__row,id,at\n1,1,a\n3,2,b\n");
        assert!(shape.has_bom);
        assert_eq!(shape.blank_lines, 1);
    }

    #[test]
    fn a_header_naming_the_runs_own_columns_is_renamed_in_the_copy() {
        let mut out = Vec::new();
        let shape = rewrite(b"id,__row,\"__file\",note\n1,a,b,c\n", b',', b'"', &mut out).unwrap();
        assert!(shape.reserved_names && shape.needs_rewrite());
        assert_eq!(String::from_utf8(out).unwrap(), "__row,id,__src__row,\"__src__file\",note\n1,1,a,b,c\n");
        assert!(!shape_of("id,_x,note\n1,a,b\n").reserved_names);
    }

    fn shape_of(text: &str) -> Shape {
        shape(text.as_bytes(), b',', b'"')
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = format!("id,at\n1,\"{}\n", "x".repeat(10_000));
        let (shape, _) = lines_kept(&long);
        assert!(shape.malformed[0].excerpt.len() <= EXCERPT_BYTES + 3);
    }

    #[test]
    fn invalid_utf8_is_found_with_its_line() {
        let bytes = b"id,name\n1,Caf\xe9\n";
        let (line, at, text) = invalid_utf8(bytes).unwrap();
        assert_eq!((line, at), (2, 13));
        assert_eq!(text, "1,Caf\u{fffd}");
        assert!(invalid_utf8(b"id\n1\n").is_none());
    }
}

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
    pub malformed: Vec<Malformed>,
}

impl Shape {
    /// Polars cannot read the file as it is without losing or inventing rows.
    pub fn needs_rewrite(&self) -> bool {
        self.blank_lines > 0 || !self.malformed.is_empty() || self.line_ends.cr > 0 || self.has_bom
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

/// Reads the record starting at `pos`. Line ends are LF, CRLF or a lone CR.
fn record(bytes: &[u8], pos: usize, line: u64, delimiter: u8, quote: u8) -> Record {
    // Most lines hold no quote: their fields are counted with SIMD searches, not byte by byte.
    let eol = memchr::memchr2(b'\n', b'\r', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
    if memchr::memchr(quote, &bytes[pos..eol]).is_none() {
        let next = match bytes.get(eol) {
            Some(b'\r') if bytes.get(eol + 1) == Some(&b'\n') => eol + 2,
            Some(_) => eol + 1,
            None => eol,
        };
        return Record {
            start: pos,
            end: eol,
            next,
            line,
            first_line_end: eol,
            first_line_next: next,
            lines: 1,
            fields: 1 + memchr::memchr_iter(delimiter, &bytes[pos..eol]).count(),
            unclosed_quote: false,
        };
    }
    quoted_record(bytes, pos, line, delimiter, quote)
}

/// `record` for a line with a quote (RFC 4180: a quoted field may hold delimiters, doubled quotes and line
/// ends), jumping from one special byte to the next.
fn quoted_record(bytes: &[u8], pos: usize, line: u64, delimiter: u8, quote: u8) -> Record {
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
            let breaks = count_line_ends(span);
            if breaks > 0 && first_line.is_none() {
                let at = i + memchr::memchr2(b'\n', b'\r', span).unwrap_or(0);
                let next = if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') { at + 2 } else { at + 1 };
                first_line = Some((at, next));
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
        match memchr::memchr3(delimiter, b'\n', b'\r', &bytes[i..]) {
            Some(k) if bytes[i + k] == delimiter => {
                fields += 1;
                i += k + 1;
            },
            Some(k) => {
                let end = i + k;
                let next = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') { end + 2 } else { end + 1 };
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
    while pos < bytes.len() {
        let r = record(bytes, pos, line, delimiter, quote);
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

/// The first byte that is not UTF-8, as (line, excerpt of that line), or `None`.
pub fn invalid_utf8(bytes: &[u8]) -> Option<(u64, usize, String)> {
    let err = simdutf8::compat::from_utf8(bytes).err()?;
    let at = err.valid_up_to();
    let line_start = bytes[..at].iter().rposition(|b| *b == b'\n' || *b == b'\r').map(|i| i + 1).unwrap_or(0);
    let line = 1 + count_line_ends(&bytes[..at]);
    let line_end = bytes[at..].iter().position(|b| *b == b'\n' || *b == b'\r').map(|i| at + i).unwrap_or(bytes.len());
    Some((line, at, excerpt(&bytes[line_start..line_end])))
}

/// LF, CRLF and lone CR line ends in `bytes`.
fn count_line_ends(bytes: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', bytes).count();
    let lone_cr = memchr::memchr_iter(b'\r', bytes).filter(|&i| bytes.get(i + 1) != Some(&b'\n')).count();
    (lf + lone_cr) as u64
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

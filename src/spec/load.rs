//! Reading a pipeline file: YAML syntax and shape errors, with their line and column, and a suggestion for
//! unknown keys.

use std::path::{Path, PathBuf};

use super::{Location, PipelineSpec};
use crate::suggest;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read pipeline file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{}:{}: {message}", path.display(), at.line, at.column)]
    Syntax { path: PathBuf, message: String, at: Location, help: Option<String> },
}

/// Reads and parses a pipeline file; returns its text too, for error rendering.
pub fn load(path: &Path) -> Result<(PipelineSpec, String), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    let spec = parse(&text, path)?;
    Ok((spec, text))
}

pub fn parse(text: &str, path: &Path) -> Result<PipelineSpec, LoadError> {
    serde_saphyr::from_str::<PipelineSpec>(text).map_err(|e| {
        let at = e.location().map(|l| Location::from_saphyr(&l)).unwrap_or_default();
        let options = serde_saphyr::render_options! {
            formatter: &serde_saphyr::DefaultMessageFormatter,
            snippets: serde_saphyr::SnippetMode::Off,
        };
        let mut message = e.render_with_options(options);
        // The location is reported separately.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        let message = plain(&message);
        let help = unknown_field_help(&message).or_else(|| unclosed_bracket(text, at.line));
        LoadError::Syntax { path: path.to_path_buf(), message, at, help }
    })
}

/// The YAML reader's wording, in the words of a pipeline's author (the reader names Rust types and its own
/// options).
fn plain(message: &str) -> String {
    let scalar = |ty: &str| match ty {
        "u8" | "u16" | "u32" | "u64" | "usize" => Some("a whole number, 0 or more"),
        "i8" | "i16" | "i32" | "i64" | "isize" => Some("a whole number"),
        "f32" | "f64" => Some("a number"),
        "bool" => Some("true or false"),
        "char" => Some("a single character"),
        _ => None,
    };
    if let Some(ty) = message.strip_prefix("invalid ").and_then(|t| scalar(t.trim())) {
        return format!("expected {ty} here");
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or("").trim_start_matches(':').trim();
        return match key.is_empty() {
            true => "a key appears twice in the same block; keep one".into(),
            false => format!("the key `{key}` appears twice in the same block; keep one"),
        };
    }
    let mut text = message
        .replace("expected sequence start", "expected a list here (`[a, b]`, or one `- item` per line)")
        .replace(
            "expected mapping start",
            "expected keys and values here (`{ key: value }`, or one `key: value` per line)",
        )
        .replace("a sequence", "a list")
        .replace("u64", "whole number")
        .replace("f64", "number");
    for (rust, plain) in [("integer `", "number `"), ("floating point `", "number `")] {
        text = text.replace(rust, plain);
    }
    text
}

/// A flow list or map (`[a, b]`, `{ k: v }`) opened on a line up to `line` and not closed on it: the usual
/// cause of the parser's confusing complaint a few lines later.
fn unclosed_bracket(text: &str, line: u64) -> Option<String> {
    for (i, l) in text.lines().enumerate().take(line as usize).collect::<Vec<_>>().into_iter().rev() {
        let code = l.split(" #").next().unwrap_or(l);
        let mut depth = 0i32;
        let mut quote: Option<char> = None;
        for c in code.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {},
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => depth -= 1,
                _ => {},
            }
        }
        if depth > 0 {
            return Some(format!("a `[` or `{{` opened on line {} is not closed on that line", i + 1));
        }
    }
    None
}

/// "unknown field `x`, expected one of a, b" (with or without backticks): suggest the closest.
fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, expected) = rest.split_once('`')?;
    let list = expected.split("expected one of ").nth(1).or_else(|| expected.split("expected ").nth(1))?;
    let candidates: Vec<&str> = list.split(',').map(|c| c.trim().trim_matches('`')).filter(|c| !c.is_empty()).collect();
    if candidates.is_empty() {
        return None;
    }
    Some(suggest::help(field, &candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_bracket_is_pointed_at() {
        let text = "name: x\nkpis: [a, b\nsegments:\n  s: { by: [] }\n";
        assert_eq!(
            unclosed_bracket(text, 3).as_deref(),
            Some("a `[` or `{` opened on line 2 is not closed on that line")
        );
        assert_eq!(unclosed_bracket("a: [1, 2]\nb: \"[\"\n", 2), None);
    }

    #[test]
    fn reader_jargon_is_rewritten() {
        assert_eq!(plain("invalid u64"), "expected a whole number, 0 or more here");
        assert_eq!(
            plain("duplicate mapping key: kpis, set DuplicateKeyPolicy in Options if acceptable"),
            "the key `kpis` appears twice in the same block; keep one"
        );
        assert!(plain("expected sequence start").starts_with("expected a list here"));
    }

    #[test]
    fn suggests_the_closest_key() {
        let help = unknown_field_help("unknown field `segmnets`, expected one of `name`, `sources`, `segments`");
        assert_eq!(help.as_deref(), Some("did you mean `segments`?"));
        let help = unknown_field_help("unknown field `kpi`, expected one of name, sources, kpis, segments");
        assert_eq!(help.as_deref(), Some("did you mean `kpis`?"));
    }
}

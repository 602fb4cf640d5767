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
        let help = unknown_field_help(&message);
        LoadError::Syntax { path: path.to_path_buf(), message, at, help }
    })
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
    fn suggests_the_closest_key() {
        let help = unknown_field_help("unknown field `segmnets`, expected one of `name`, `sources`, `segments`");
        assert_eq!(help.as_deref(), Some("did you mean `segments`?"));
        let help = unknown_field_help("unknown field `kpi`, expected one of name, sources, kpis, segments");
        assert_eq!(help.as_deref(), Some("did you mean `kpis`?"));
    }
}

//! Error rendering for people: `file:line:col: message`, then the pipeline line with a marker (miette).

use deskpulse::plan::{Diagnostic, PlanError};
use deskpulse::spec::{LoadError, Location};
use deskpulse::Error;
use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};
use std::path::Path;

pub fn error(e: &Error) {
    match e {
        Error::Load(LoadError::Syntax { path, message, at, help }) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let d = Diagnostic { message: message.clone(), at: *at, help: help.clone() };
            eprintln!("{}", located(path, &text, &d));
        },
        Error::Plan(PlanError { path, text, diagnostics }) => {
            for d in diagnostics {
                eprintln!("{}", located(path, text, d));
            }
            eprintln!("error: {} has {} problem(s)", path.display(), diagnostics.len());
        },
        Error::Data(data) => match data.location() {
            Some(at) if at.is_known() => {
                let path = pipeline_path();
                let text = path.as_deref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
                let d = Diagnostic { message: format!("bad input data: {data}"), at, help: data.help() };
                match path {
                    Some(p) if !text.is_empty() => eprintln!("{}", located(&p, &text, &d)),
                    _ => eprintln!("error: bad input data: {data}{}", help_line(data)),
                }
            },
            _ => eprintln!("error: bad input data: {data}{}", help_line(data)),
        },
        other => eprintln!("error: {other}"),
    }
}

fn help_line(data: &deskpulse::error::DataError) -> String {
    data.help().map(|h| format!("\n  help: {h}")).unwrap_or_default()
}

/// The pipeline file named on the command line, for showing the line a data error comes from.
fn pipeline_path() -> Option<std::path::PathBuf> {
    std::env::args().skip(2).find(|a| !a.starts_with('-')).map(Into::into)
}

fn offset_of(text: &str, at: &Location) -> usize {
    if let Some(o) = at.offset {
        return o.min(text.len());
    }
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == at.line as usize {
            return (offset + (at.column as usize).saturating_sub(1)).min(text.len());
        }
        offset += line.len();
    }
    text.len()
}

fn located(path: &Path, text: &str, d: &Diagnostic) -> String {
    let head = if d.at.is_known() {
        format!("{}:{}:{}: {}", path.display(), d.at.line, d.at.column, d.message)
    } else {
        format!("{}: {}", path.display(), d.message)
    };
    let mut diag = MietteDiagnostic::new(head);
    if let Some(h) = &d.help {
        diag = diag.with_help(h.clone());
    }
    if d.at.is_known() && !text.is_empty() {
        let start = offset_of(text, &d.at);
        let len = d.at.len.max(1).min(text.len().saturating_sub(start).max(1));
        diag = diag.with_labels(vec![LabeledSpan::at(start..start + len, "here")]);
    }
    let report = Report::new(diag).with_source_code(NamedSource::new(path.display().to_string(), text.to_string()));
    format!("{report:?}")
}

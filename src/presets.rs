//! Starter presets (`deskpulse init --preset NAME DIR`): a pipeline mapping one vendor's documented export
//! field names, and a tiny sample in that shape, so that a new user's first run works before their own
//! exports are in place. The files live under `sample_data/presets/<name>/`, where CI runs each one.

use std::path::{Path, PathBuf};

use crate::error::Error;

pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    /// Paths relative to the preset's folder, and contents.
    pub files: &'static [(&'static str, &'static str)],
}

macro_rules! file {
    ($preset:literal, $path:literal) => {
        ($path, include_str!(concat!("../sample_data/presets/", $preset, "/", $path)))
    };
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "zendesk",
        about: "Zendesk Support's ticket CSV export (with its satisfaction score), comments and field history",
        files: &[
            file!("zendesk", "pipeline.yaml"),
            file!("zendesk", "data/tickets-2026-01.csv"),
            file!("zendesk", "data/tickets-2026-02.csv"),
            file!("zendesk", "data/ticket_comments.csv"),
            file!("zendesk", "data/ticket_field_history.csv"),
        ],
    },
    Preset {
        name: "freshdesk",
        about: "Freshdesk's ticket export and conversations",
        files: &[
            file!("freshdesk", "pipeline.yaml"),
            file!("freshdesk", "data/tickets.csv"),
            file!("freshdesk", "data/conversations.csv"),
        ],
    },
    Preset {
        name: "zammad",
        about: "Zammad's tickets, articles and history from its REST API",
        files: &[
            file!("zammad", "pipeline.yaml"),
            file!("zammad", "data/tickets.csv"),
            file!("zammad", "data/articles.csv"),
            file!("zammad", "data/history.csv"),
        ],
    },
    Preset {
        name: "servicenow",
        about: "ServiceNow incidents, as an audit log (also read as their history) or a list export",
        files: &[file!("servicenow", "pipeline.yaml"), file!("servicenow", "data/incident_event_log.csv")],
    },
    Preset {
        name: "intercom",
        about: "Intercom conversations from its REST API (Unix times, ratings)",
        files: &[file!("intercom", "pipeline.yaml"), file!("intercom", "data/conversations.csv")],
    },
    Preset {
        name: "generic",
        about: "files already in deskpulse's canonical shape (tickets, surveys, accounts)",
        files: &[
            file!("generic", "pipeline.yaml"),
            file!("generic", "data/accounts.csv"),
            file!("generic", "data/surveys.csv"),
            file!("generic", "data/tickets.csv"),
        ],
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Writes the preset's pipeline and sample into `dir`; refuses to overwrite any file already there.
pub fn write(preset: &Preset, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let targets: Vec<PathBuf> = preset.files.iter().map(|(path, _)| dir.join(path)).collect();
    if let Some(existing) = targets.iter().find(|t| t.exists()) {
        return Err(Error::Usage(format!(
            "{} already exists: `init` writes into a new or empty folder and never overwrites a file",
            existing.display()
        )));
    }
    for ((_, text), target) in preset.files.iter().zip(&targets) {
        let failed = |e: std::io::Error| Error::Output { path: target.clone(), message: e.to_string() };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let partial = target.with_extension("partial");
        std::fs::write(&partial, text).and_then(|_| std::fs::rename(&partial, target)).map_err(failed)?;
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_pipeline() {
        for p in PRESETS {
            let (_, pipeline) = p.files[0];
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pipeline.yaml");
            std::fs::write(&path, pipeline).unwrap();
            if let Err(e) = crate::load_plan(&path) {
                panic!("preset {}: {e:?}", p.name);
            }
        }
    }

    #[test]
    fn init_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let preset = find("generic").unwrap();
        write(preset, dir.path()).unwrap();
        assert!(matches!(write(preset, dir.path()), Err(Error::Usage(_))));
    }
}

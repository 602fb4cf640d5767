//! The persistent store (`DIR/_store`, or `outputs.store`): the typed rows of every input file, one
//! Parquet part per file, and a manifest of the files seen, so that a nightly run stages only the files that
//! are new or changed. Parts hold rows as normalised, with the static quarantine rules judged (the
//! plausible range follows the calendar, so it is judged when the parts are read). A part is named by a hash of the file's
//! content, its path and its source's mapping, so a part is never reused for anything but the rows it holds.
//!
//! Writes are atomic: parts and the manifest are written under a temporary name and renamed, the manifest
//! last. A run killed at any moment leaves the previous manifest and every part it names in place; the
//! next run removes the leftovers.

pub(crate) mod id_index;
pub(crate) mod parts;
pub(crate) mod stage;
pub(crate) mod touched;
pub(crate) mod write_parts;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::plan::Source;

const MANIFEST: &str = "manifest.json";
const PARTS: &str = "parts";
/// Bumped when the parts' layout or the rules marked in them while staging (`quarantine::static_rules`)
/// change; a store of another format is restaged. 2: messages' unknown author roles; 3: the `instance` column;
/// 4: the tickets' `solver` column.
const FORMAT: u32 = 4;

/// One input file as the store knows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub source: String,
    pub table: String,
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u128,
    /// xxh3-128 of the file's bytes.
    pub content_hash: String,
    /// The part file, relative to the store.
    pub part: String,
    /// The part's size: a part cut short (a disk error, a copy interrupted) is not reused.
    pub part_bytes: u64,
    /// Rows in the part (records read, less malformed ones).
    pub rows: u64,
    pub blank_lines: u64,
    /// Records set aside as malformed (data row, detail), quarantined on every run that uses the part.
    pub malformed: Vec<(u64, String)>,
    /// First and last instant (or day) of the rows' period column, when the table has one.
    pub span: Option<(String, String)>,
    /// The encoding the file was decoded from, when not UTF-8, and sequences that could not be decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<(String, u64)>,
    /// The file is gone and its source says `retain: true`: its rows stay until `store --forget`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retained: bool,
}

/// What the last run computed from, to recognise a run with nothing new.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LastRun {
    pub run_id: String,
    /// Hash of every input that decides the outputs: the parts in order, the pipeline, the plausible range
    /// and, where SLA judgements use it, the as-of instant.
    pub inputs_key: String,
    /// Output files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Hashes of the table files written, by relative path (`sink::Output::digests`).
    #[serde(default)]
    pub digests: BTreeMap<String, String>,
    /// What the outputs were computed with besides the data (`touched::settings`): when these are the same,
    /// only the periods the changed files touch are recomputed.
    #[serde(default)]
    pub pipeline_hash: Option<String>,
    #[serde(default)]
    pub plausible: Option<String>,
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub deskpulse: String,
    pub files: Vec<FileEntry>,
    pub last_run: Option<LastRun>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest { format: FORMAT, deskpulse: env!("CARGO_PKG_VERSION").into(), files: Vec::new(), last_run: None }
    }
}

pub struct Store {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Why the previous manifest was not used, when it was not.
    pub discarded: Option<String>,
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_path_buf(), message: e.to_string() }
}

impl Store {
    /// Opens (or starts) the store in `dir`, removing what killed runs left. A manifest of another deskpulse
    /// version or store format, or one that does not parse, is not trusted: every file is staged again.
    pub fn open(dir: &Path) -> Result<Store, Error> {
        if dir.is_dir() {
            remove_temporary(dir)?;
        }
        let path = dir.join(MANIFEST);
        let (manifest, discarded) = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Manifest::default(), None),
            Err(e) => return Err(store_error(&path, e)),
            Ok(text) => match serde_json::from_str::<Manifest>(&text) {
                Ok(m) if m.format == FORMAT && m.deskpulse == env!("CARGO_PKG_VERSION") => (m, None),
                Ok(m) => (
                    Manifest::default(),
                    Some(format!("the store was written by deskpulse {} (store format {})", m.deskpulse, m.format)),
                ),
                Err(e) => (Manifest::default(), Some(format!("its manifest does not parse ({e})"))),
            },
        };
        Ok(Store { dir: dir.to_path_buf(), manifest, discarded })
    }

    /// The entry of `file` for `source` whose part can be reused as it is: same size, modification time and
    /// mapping, and a part still on disk.
    pub fn reusable(&self, plan: &crate::plan::Plan, source: &Source, file: &Path, seen: &FileSeen) -> Reuse<'_> {
        let path = file.display().to_string();
        let Some(entry) = self.manifest.files.iter().find(|e| e.source == source.name && e.path == path) else {
            return Reuse::New;
        };
        if entry.size != seen.size || entry.modified_ns != seen.modified_ns {
            return Reuse::Changed;
        }
        if !entry.part.contains(&source_fingerprint(plan, source)) {
            return Reuse::Remapped;
        }
        match std::fs::metadata(self.dir.join(&entry.part)) {
            Ok(m) if m.len() == entry.part_bytes => Reuse::Same(entry),
            _ => Reuse::Damaged,
        }
    }

    /// Whether a retained file's part can still be read: staged under the source's present mapping, and on
    /// disk as written.
    pub fn reusable_retained(
        &self,
        plan: &crate::plan::Plan,
        source: &Source,
        entry: &FileEntry,
    ) -> Result<(), &'static str> {
        if !entry.part.contains(&source_fingerprint(plan, source)) {
            return Err("was staged under another mapping of the source");
        }
        match std::fs::metadata(self.dir.join(&entry.part)) {
            Ok(m) if m.len() == entry.part_bytes => Ok(()),
            _ => Err("has a part that is missing or damaged"),
        }
    }

    /// Where the part of a file with this content, path and source goes.
    pub fn part_path(&self, plan: &crate::plan::Plan, source: &Source, file: &Path, content_hash: &str) -> String {
        let name = xxhash_rust::xxh3::xxh3_128(format!("{content_hash}\u{0}{}", file.display()).as_bytes());
        format!("{PARTS}/{}/{name:032x}-{}.parquet", source.table, source_fingerprint(plan, source))
    }

    /// Moves the parts staged by this run (`(where they are, their part path)`) into the store, writes the
    /// manifest (atomically) and removes the parts it no longer names. Until then the store is untouched, so
    /// a run that fails leaves it as it was.
    pub fn commit(&mut self, manifest: Manifest, new_parts: &[(PathBuf, String)]) -> Result<(), Error> {
        for (from, part) in new_parts {
            let to = self.dir.join(part);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| store_error(parent, e))?;
            }
            move_into(from, &to)?;
            // The part's id files (`id_index`), when this run wrote them.
            let beside = from.parent().map(walk_files).unwrap_or_default();
            for file in beside.iter().filter(|f| crate::exec::store::id_index::belongs_to(f, from)) {
                let suffix = &file.to_string_lossy()[from.to_string_lossy().len()..];
                move_into(file, &PathBuf::from(format!("{}{suffix}", to.display())))?;
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| store_error(&self.dir, e))?;
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| store_error(&path, e))?;
        write_synced(&tmp, text.as_bytes()).map_err(|e| store_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| store_error(&path, e))?;
        let named: std::collections::HashSet<PathBuf> = manifest.files.iter().map(|f| self.dir.join(&f.part)).collect();
        for file in walk_files(&self.dir.join(PARTS)) {
            let id_file_of_named = named.iter().any(|part| crate::exec::store::id_index::belongs_to(&file, part));
            if !named.contains(&file) && !id_file_of_named {
                let _ = std::fs::remove_file(&file);
            }
        }
        self.manifest = manifest;
        Ok(())
    }
}

/// Whether a file's part can be reused, and if not, why.
pub enum Reuse<'a> {
    Same(&'a FileEntry),
    /// Not seen before.
    New,
    /// Another size or modification time.
    Changed,
    /// The source's mapping (or a definition its rules read) changed since the part was written.
    Remapped,
    /// The part is missing or not the size it was written with.
    Damaged,
}

/// Size and modification time of an input file.
pub struct FileSeen {
    pub size: u64,
    pub modified_ns: u128,
}

pub fn seen(file: &Path) -> std::io::Result<FileSeen> {
    // An object: as listed (its modification time, not its copy's).
    if let Some((size, modified_ns)) = crate::exec::read::remote::seen(file) {
        return Ok(FileSeen { size, modified_ns });
    }
    let meta = std::fs::metadata(file)?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(FileSeen { size: meta.len(), modified_ns })
}

/// xxh3-128 of a file's bytes, as hex.
pub fn content_hash(file: &Path) -> std::io::Result<String> {
    let local = crate::exec::read::remote::local(file).map_err(|e| std::io::Error::other(e.to_string()))?;
    let handle = std::fs::File::open(local)?;
    if handle.metadata()?.len() == 0 {
        return Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&[])));
    }
    // SAFETY: read-only map of an input file (see prepare.rs).
    let map = unsafe { memmap2::Mmap::map(&handle)? };
    Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&map)))
}

/// What of a source decides the rows of its parts: table, format, CSV options, filter and mappings (not
/// where they are written in the pipeline), as a short hash.
pub fn source_fingerprint(plan: &crate::plan::Plan, source: &Source) -> String {
    // The static quarantine rules are judged at staging: the survey scales they read are part of it.
    let d = &plan.definitions;
    let mut text = format!(
        "{:?}|{:?}|{}|{}|{:?}|{:?}|{}|{:?}|{:?}|",
        d.csat_scale,
        d.ces_scale,
        source.name,
        source.table,
        source.format,
        source.csv,
        source.filter.as_ref().map(|f| f.text.as_str()).unwrap_or(""),
        match &source.duplicates {
            crate::plan::Duplicates::Reject => String::new(),
            crate::plan::Duplicates::KeepLatest { by, .. } => by.clone(),
        },
        source.quarantine_unreadable,
    );
    for m in &source.columns {
        text.push_str(&format!(
            "{}={};{:?};{:?};{:?};{:?};{:?};{:?};{:?};{};{:?}|",
            m.canonical.name,
            m.value.describe(),
            m.format,
            m.time_zone,
            m.map,
            m.default,
            m.true_values,
            m.false_values,
            m.duration,
            m.integer,
            m.after
        ));
    }
    // Every part of a table carries all of the table's attributes (empty where its source has none).
    for (name, ty) in plan.attributes(source.table) {
        let own = source.attributes.iter().find(|a| a.name == name);
        text.push_str(&format!("@{name}={:?};{ty:?};{:?}|", own.map(|a| &a.column), own.and_then(|a| a.ty)));
    }
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Writes `bytes` to `path` and flushes them to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Moves `from` to `to` through a temporary name beside `to`. Across disks (`outputs.store` elsewhere) a
/// rename fails: the file is copied under the temporary name instead.
fn move_into(from: &Path, to: &Path) -> Result<(), Error> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    if std::fs::rename(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).map_err(|e| store_error(&tmp, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| store_error(to, e))
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// Removes the temporary files of runs that were killed while writing.
fn remove_temporary(dir: &Path) -> Result<(), Error> {
    for file in walk_files(dir) {
        if file.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&file).map_err(|e| store_error(&file, e))?;
        }
    }
    Ok(())
}

/// Drops the retained files `paths` (as `describe` lists them, or their last components) from the store at
/// `dir`: their entries leave the manifest (their parts are removed by the next commit), and the last run is
/// forgotten, so that the next run recomputes every period. Returns the paths dropped.
pub fn forget(dir: &Path, paths: &[String]) -> Result<Vec<String>, Error> {
    let mut store = Store::open(dir)?;
    if let Some(why) = &store.discarded {
        return Err(store_error(dir, why));
    }
    let matches = |entry: &FileEntry, path: &str| entry.path == path || Path::new(&entry.path).ends_with(path);
    let mut dropped = Vec::new();
    for path in paths {
        let found: Vec<&FileEntry> = store.manifest.files.iter().filter(|e| matches(e, path)).collect();
        match found.iter().find(|e| !e.retained) {
            _ if found.is_empty() => {
                let retained: Vec<&str> =
                    store.manifest.files.iter().filter(|e| e.retained).map(|e| e.path.as_str()).collect();
                let listed = if retained.is_empty() { "none".to_string() } else { retained.join(", ") };
                return Err(store_error(dir, format!("no file {path} in the store (retained files: {listed})")));
            },
            Some(e) => {
                return Err(store_error(
                    dir,
                    format!("{} is not retained: its file is still read, so its rows would come back", e.path),
                ))
            },
            None => dropped.extend(found.iter().map(|e| e.path.clone())),
        }
    }
    let mut manifest = store.manifest.clone();
    manifest.files.retain(|e| !dropped.contains(&e.path));
    manifest.last_run = None;
    store.commit(manifest, &[])?;
    dropped.dedup();
    Ok(dropped)
}

/// What `deskpulse store DIR` prints: per table, files, rows and bytes; then each file.
pub fn describe(dir: &Path) -> Result<String, Error> {
    let store = Store::open(dir)?;
    if let Some(why) = &store.discarded {
        return Ok(format!("{}: not usable: {why}\n", dir.display()));
    }
    let mut by_table: BTreeMap<&str, (usize, u64, u64)> = BTreeMap::new();
    let mut lines = Vec::new();
    for f in &store.manifest.files {
        let bytes = std::fs::metadata(dir.join(&f.part)).map(|m| m.len()).unwrap_or(0);
        let t = by_table.entry(f.table.as_str()).or_default();
        t.0 += 1;
        t.1 += f.rows;
        t.2 += bytes;
        let span = f.span.as_ref().map(|(a, b)| format!("{a} .. {b}")).unwrap_or_else(|| "-".into());
        let retained = if f.retained { "  (retained: the file is gone)" } else { "" };
        lines.push(format!("  {:<10} {:>10} rows {:>10} bytes  {span}  {}{retained}", f.table, f.rows, bytes, f.path));
    }
    let mut out = format!("store {} (deskpulse {})\n", dir.display(), store.manifest.deskpulse);
    for (table, (files, rows, bytes)) in &by_table {
        out.push_str(&format!("{table}: {files} file(s), {rows} rows, {bytes} bytes\n"));
    }
    if let Some(last) = &store.manifest.last_run {
        out.push_str(&format!("last run: {}\n", last.run_id));
    }
    out.push_str("files:\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    Ok(out)
}

//! Inputs on object stores: `s3://bucket/prefix/*.csv`, `gs://`, `az://` (and `abfs://`), and one file over
//! `https://`. A source's objects are listed (with their size, modification time and ETag, what the store
//! compares, so a night fetches only new or changed objects), fetched into the run's work folder when a run
//! stages them, and then read like local files: every check of a local file (records, encodings, the store)
//! holds. Credentials, regions and endpoints come from the standard environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` for a local endpoint;
//! `GOOGLE_SERVICE_ACCOUNT`…; `AZURE_STORAGE_ACCOUNT_NAME`…), as the vendors' own tools read them.
//!
//! An object is named by its URL wherever a local file is named by its path (`__file`, messages, the store's
//! manifest); `local` gives the copy to read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::DataError;
use crate::plan::Source;

/// An object listed for a source: where it is, what the store compares, and its local copy once fetched.
#[derive(Clone)]
struct Listed {
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    size: u64,
    modified_ns: u128,
    local: Option<PathBuf>,
}

/// The objects listed in this process, by URL.
static LISTED: Mutex<Option<HashMap<PathBuf, Listed>>> = Mutex::new(None);

/// Where objects are fetched when no run's work folder was given (`validate`, `explain`).
static FALLBACK_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

/// Object store calls are asynchronous; the run is not: they run on this runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for object store inputs")
    })
}

/// Whether a source's path names objects rather than local files (the plan keeps such a path as written).
pub fn is_remote(pattern: &str) -> bool {
    crate::plan::is_url(pattern)
}

/// The objects `source`'s path matches, sorted, each named by its URL; their sizes and modification times are
/// kept for `seen`. Bad credentials, a missing bucket and an unreachable endpoint fail here, before any work.
pub fn list(source: &Source) -> Result<Vec<PathBuf>, DataError> {
    let url = source.pattern.as_str();
    let fail =
        |message: String| DataError::Unreadable { source_name: source.name.clone(), file: url.to_string(), message };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| fail("not a URL".into()))?;
    let (container, key_pattern) = rest.split_once('/').unwrap_or((rest, ""));
    let wildcard = key_pattern.find(['*', '?', '[']);
    if matches!(scheme, "http" | "https") {
        if wildcard.is_some() {
            return Err(fail("an https:// path names one file: a web server cannot be listed for wildcards".into()));
        }
        return list_http(url, &fail);
    }
    let store = store_for(scheme, container).map_err(|e| fail(e.to_string()))?;
    // Listed from the folder before the first wildcard, then matched against the whole pattern.
    let prefix = match wildcard {
        Some(w) => key_pattern[..w].rfind('/').map(|slash| &key_pattern[..slash]).unwrap_or(""),
        None => key_pattern,
    };
    let matcher = glob::Pattern::new(key_pattern).map_err(|e| fail(format!("bad wildcard pattern: {e}")))?;
    let objects = runtime().block_on(list_recursively(store.as_ref(), prefix)).map_err(|e| fail(short_error(&e)))?;
    let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
    let mut found = Vec::new();
    let mut listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
    for meta in objects.into_iter().filter(|m| matcher.matches_with(m.location.as_ref(), options)) {
        let name = PathBuf::from(format!("{scheme}://{container}/{}", meta.location));
        let modified_ns = meta.last_modified.timestamp_nanos_opt().unwrap_or(0).max(0) as u128;
        let entry = Listed { store: store.clone(), location: meta.location, size: meta.size, modified_ns, local: None };
        listed.get_or_insert_with(HashMap::new).insert(name.clone(), entry);
        found.push(name);
    }
    found.sort();
    Ok(found)
}

/// One file over https: its size and modification time from a HEAD request.
fn list_http(url: &str, fail: &dyn Fn(String) -> DataError) -> Result<Vec<PathBuf>, DataError> {
    let (base, file) = url.rsplit_once('/').ok_or_else(|| fail("no file name in the URL".into()))?;
    let store: Arc<dyn ObjectStore> = Arc::new(
        object_store::http::HttpBuilder::new()
            .with_url(base)
            .with_retry(retries())
            .build()
            .map_err(|e| fail(short_error(&e)))?,
    );
    let location = ObjectPath::from(file);
    let meta = runtime().block_on(store.head(&location)).map_err(|e| fail(short_error(&e)))?;
    let modified_ns = meta.last_modified.timestamp_nanos_opt().unwrap_or(0).max(0) as u128;
    let name = PathBuf::from(url);
    let entry = Listed { store, location, size: meta.size, modified_ns, local: None };
    LISTED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).insert(name.clone(), entry);
    Ok(vec![name])
}

/// The store a URL's scheme and bucket (or container) name, configured from the environment.
fn store_for(scheme: &str, container: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
    let url = format!("{scheme}://{container}");
    let retry = retries();
    Ok(match scheme {
        "s3" | "s3a" => {
            Arc::new(object_store::aws::AmazonS3Builder::from_env().with_url(url).with_retry(retry).build()?)
        },
        "gs" | "gcs" => {
            Arc::new(object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url).with_retry(retry).build()?)
        },
        _ => Arc::new(object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url).with_retry(retry).build()?),
    })
}

/// A few retries within 20 s: an unreachable endpoint fails the run in seconds, not after the library's
/// default of 10 retries over 3 minutes.
fn retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    }
}

/// Every object under `prefix`, folder by folder (`list_with_delimiter`).
async fn list_recursively(
    store: &dyn ObjectStore,
    prefix: &str,
) -> object_store::Result<Vec<object_store::ObjectMeta>> {
    let mut objects = Vec::new();
    let mut folders = vec![(!prefix.is_empty()).then(|| ObjectPath::from(prefix))];
    while let Some(folder) = folders.pop() {
        let listing = store.list_with_delimiter(folder.as_ref()).await?;
        objects.extend(listing.objects);
        folders.extend(listing.common_prefixes.into_iter().map(Some));
    }
    Ok(objects)
}

/// The first line of an object store error, without the request's details.
fn short_error(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    crate::exec::short(text.lines().next().unwrap_or(&text))
}

/// The size and modification time (nanoseconds) of a listed object.
pub fn seen(name: &Path) -> Option<(u64, u128)> {
    let listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
    listed.as_ref()?.get(name).map(|l| (l.size, l.modified_ns))
}

/// Fetches the listed objects `names` into `dir` (in parallel), for the run that stages them.
pub fn fetch(names: &[PathBuf], dir: &Path) -> Result<(), DataError> {
    let jobs: Vec<(PathBuf, Listed)> = {
        let listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
        let Some(listed) = listed.as_ref() else { return Ok(()) };
        names
            .iter()
            .filter_map(|n| listed.get(n).filter(|l| l.local.is_none()).map(|l| (n.clone(), l.clone())))
            .collect()
    };
    if jobs.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| fetch_error(&jobs[0].0, e.to_string()))?;
    let fetched = runtime().block_on(async {
        let tasks: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(i, (name, l))| {
                let target = dir.join(format!("{i}-{}", l.location.filename().unwrap_or("object")));
                tokio::spawn(async move {
                    let bytes = l.store.get(&l.location).await.map_err(|e| short_error(&e))?.bytes().await;
                    let bytes = bytes.map_err(|e| short_error(&e))?;
                    tokio::fs::write(&target, &bytes).await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((name, target))
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.map_err(|e| e.to_string()).and_then(|r| r));
        }
        out
    });
    let mut listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
    let listed = listed.get_or_insert_with(HashMap::new);
    for result in fetched {
        let (name, target) = result.map_err(|message| fetch_error(Path::new("an object"), message))?;
        if let Some(l) = listed.get_mut(&name) {
            l.local = Some(target);
        }
    }
    Ok(())
}

fn fetch_error(name: &Path, message: String) -> DataError {
    DataError::Unreadable { source_name: "an object store source".into(), file: name.display().to_string(), message }
}

/// The local copy of `name` to read: a listed object's (fetched now if no run fetched it), or `name`
/// itself for a local file.
pub fn local(name: &Path) -> Result<PathBuf, DataError> {
    let copy = {
        let listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
        match listed.as_ref().and_then(|l| l.get(name)) {
            None => return Ok(name.to_path_buf()),
            Some(l) => l.local.clone(),
        }
    };
    if let Some(copy) = copy {
        return Ok(copy);
    }
    let dir = FALLBACK_DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder for fetched objects"));
    fetch(&[name.to_path_buf()], dir.path())?;
    let listed = LISTED.lock().unwrap_or_else(|e| e.into_inner());
    Ok(listed.as_ref().and_then(|l| l.get(name)).and_then(|l| l.local.clone()).unwrap_or_else(|| name.to_path_buf()))
}

/// Forgets the local copies (the run's work folder that held them is gone).
pub fn forget_copies() {
    if let Some(listed) = LISTED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        listed.values_mut().for_each(|l| l.local = None);
    }
}

//! `deskpulse report DIR`: one self-contained HTML page from a run's outputs, for managers. The charts are SVG
//! drawn here (`svg`), the styles inline: the page needs no network and no script. It reads the KPI tables
//! (`DIR/*.parquet`), the benchmark tables (`DIR/benchmarks/`) and the newest run record (`DIR/_runs/`), and
//! the pipeline that record names, for its definitions.

mod headline;
mod page;
pub mod svg;

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{DataError, Error};

/// A KPI table as written: its dimensions, then one row per period, KPI and stat.
pub(crate) struct Table {
    pub name: String,
    pub dims: Vec<String>,
    pub rows: Vec<Row>,
}

pub(crate) struct Row {
    pub dims: Vec<Option<String>>,
    pub period: Option<String>,
    pub kpi: String,
    pub stat: String,
    pub value: f64,
    /// The row's unit (`seconds`, `percent`, `count`…), as the table says.
    pub unit: String,
    pub low_sample: bool,
    /// The KPI's target and whether the row meets it (`target:` on the KPI).
    pub target: Option<f64>,
    pub target_met: Option<bool>,
    /// Benchmark tables: the confidence interval, the published reference, the peers' quartiles.
    pub interval: Option<(f64, f64)>,
    pub reference: Option<f64>,
    pub peers: Option<(f64, f64, f64)>,
    /// Benchmark tables: `better`, `worse` or `on_par` against the reference, and the sector whose
    /// reference a table not split by sector is compared with (`benchmarks.sector`).
    pub verdict: Option<String>,
    pub reference_sector: Option<String>,
}

impl Row {
    /// The row's dimension values, joined for a label; `(none)` for a missing one, `all` without any.
    pub fn label(&self) -> String {
        if self.dims.is_empty() {
            return "all".into();
        }
        self.dims.iter().map(|d| d.as_deref().unwrap_or("(none)")).collect::<Vec<_>>().join(" · ")
    }
}

/// The report of the run in `dir`, as HTML.
pub fn render(dir: &Path) -> Result<String, Error> {
    let tables = read_tables(dir)?;
    if tables.is_empty() {
        return Err(
            DataError::NotFound { what: format!("no KPI tables in {} (run a pipeline first)", dir.display()) }.into()
        );
    }
    let benchmarks = read_tables(&dir.join("benchmarks")).unwrap_or_default();
    let run = crate::exec::run_records(dir).ok().and_then(|mut r| r.pop());
    let alerts = alerts(dir);
    Ok(page::page(&tables, &benchmarks, run.as_ref(), &alerts))
}

/// Writes the report of the run in `dir` to `out`: to a temporary file beside it first, so that a failed write
/// leaves the last report whole.
pub fn write(dir: &Path, out: &Path) -> Result<(), Error> {
    let html = render(dir)?;
    let fault = |e: std::io::Error| Error::Output { path: out.to_path_buf(), message: e.to_string() };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fault)?;
    }
    let tmp = PathBuf::from(format!("{}.tmp", out.display()));
    std::fs::write(&tmp, html).map_err(fault)?;
    std::fs::rename(&tmp, out).map_err(fault)
}

/// The KPI tables of a folder: its `*.parquet` files with a `kpi` column, and (layout `hive`) its folders of
/// `period_start=…/part-0.parquet` parts, by name.
fn read_tables(dir: &Path) -> Result<Vec<Table>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| DataError::NotFound { what: format!("cannot read the outputs in {}: {e}", dir.display()) })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut tables = Vec::new();
    for path in paths {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let df = if path.extension().is_some_and(|x| x == "parquet") {
            read_parquet(&path)?
        } else if path.is_dir() && !name.starts_with('_') {
            match crate::sink::read_partitioned(&path)? {
                Some(df) => df,
                None => continue,
            }
        } else {
            continue;
        };
        // KPI tables (not the alerts, which have a `kpi` column too).
        if df.column("kpi").is_ok()
            && df.column(crate::exec::OUTPUT_COLUMNS[0]).is_ok()
            && df.column("low_sample").is_ok()
        {
            tables.push(table(name, &df)?);
        }
    }
    Ok(tables)
}

/// The run's alerts (`DIR/alerts.parquet`), as lines for people: segment, dimensions, period, KPI, value and
/// the expected range.
pub(crate) struct Alert {
    pub segment: String,
    pub dimensions: String,
    pub period: String,
    pub kpi: String,
    pub stat: String,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub above: bool,
}

fn alerts(dir: &Path) -> Vec<Alert> {
    let Ok(df) = read_parquet(&dir.join("alerts.parquet")) else { return Vec::new() };
    let text = |c: &str| -> Vec<String> {
        df.column(c)
            .and_then(|s| s.cast(&DataType::String))
            .map(|s| s.str().map(|s| s.iter().map(|v| v.unwrap_or_default().to_string()).collect()).unwrap_or_default())
            .unwrap_or_default()
    };
    let number = |c: &str| -> Vec<f64> {
        df.column(c)
            .and_then(|s| s.cast(&DataType::Float64))
            .map(|s| s.f64().map(|s| s.iter().map(|v| v.unwrap_or(f64::NAN)).collect()).unwrap_or_default())
            .unwrap_or_default()
    };
    let (segment, dims, period, kpi, stat, direction) =
        (text("segment"), text("dimensions"), text("period_start"), text("kpi"), text("stat"), text("direction"));
    let (value, low, high) = (number("value"), number("expected_low"), number("expected_high"));
    (0..df.height().min(segment.len()).min(value.len()).min(low.len()).min(high.len()))
        .map(|i| Alert {
            segment: segment[i].clone(),
            dimensions: dims.get(i).cloned().unwrap_or_default(),
            period: period.get(i).cloned().unwrap_or_default(),
            kpi: kpi.get(i).cloned().unwrap_or_default(),
            stat: stat.get(i).cloned().unwrap_or_default(),
            value: value[i],
            low: low[i],
            high: high[i],
            above: direction.get(i).is_some_and(|d| d == "above"),
        })
        .collect()
}

fn read_parquet(path: &Path) -> PolarsResult<DataFrame> {
    crate::sink::scan_file(path)?.collect()
}

fn table(name: String, df: &DataFrame) -> PolarsResult<Table> {
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    // The dimensions come first (a hive part's `period_start` comes last, from its folder).
    let dims: Vec<String> = names.iter().take_while(|c| *c != "period_start" && *c != "kpi").cloned().collect();
    let text = |c: &str| -> PolarsResult<Vec<Option<String>>> {
        let s = df.column(c)?.cast(&DataType::String)?;
        Ok(s.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let number = |c: &str| -> PolarsResult<Vec<Option<f64>>> {
        match df.column(c) {
            Ok(s) => Ok(s.cast(&DataType::Float64)?.f64()?.iter().collect()),
            Err(_) => Ok(vec![None; df.height()]),
        }
    };
    let dim_values: Vec<Vec<Option<String>>> = dims.iter().map(|d| text(d)).collect::<PolarsResult<_>>()?;
    let (period, kpi, stat) = (text("period_start")?, text("kpi")?, text("stat")?);
    let value = number("value")?;
    let optional_text = |c: &str| match df.column(c) {
        Ok(_) => text(c),
        Err(_) => Ok(vec![None; df.height()]),
    };
    let unit = optional_text("unit")?;
    let target = number("target")?;
    let target_met: Vec<Option<bool>> = match df.column("target_met") {
        Ok(c) => c.bool()?.iter().collect(),
        Err(_) => vec![None; df.height()],
    };
    let (verdict, reference_sector) = (optional_text("verdict")?, optional_text("reference_sector")?);
    let low: Vec<Option<bool>> = df.column("low_sample")?.bool()?.iter().collect();
    let (ci_low, ci_high, reference) = (number("ci_low")?, number("ci_high")?, number("reference")?);
    let (p25, median, p75) = (number("peer_p25")?, number("peer_median")?, number("peer_p75")?);
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let Some(v) = value[i] else { continue };
        rows.push(Row {
            dims: dim_values.iter().map(|d| d[i].clone()).collect(),
            period: period[i].clone(),
            kpi: kpi[i].clone().unwrap_or_default(),
            stat: stat[i].clone().unwrap_or_default(),
            value: v,
            unit: unit[i].clone().unwrap_or_default(),
            low_sample: low[i].unwrap_or(false),
            target: target[i],
            target_met: target_met[i],
            interval: ci_low[i].zip(ci_high[i]),
            reference: reference[i],
            peers: match (p25[i], median[i], p75[i]) {
                (Some(a), Some(b), Some(c)) => Some((a, b, c)),
                _ => None,
            },
            verdict: verdict[i].clone(),
            reference_sector: reference_sector[i].clone(),
        });
    }
    Ok(Table { name, dims, rows })
}

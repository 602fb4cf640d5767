//! The distributed backend (`--features ballista`): the segments' group-bys run as SQL on an Apache
//! DataFusion Ballista cluster.
//!
//! The split, from the same validated plan as a local run: Polars reads and stages the sources into the store
//! and judges the rules over whole tables (repeated ids, references); the executors read a table's rows from
//! the store's parts and prepare them as SQL (`exec::StoreRows`, `read_store`) where the plan lets them, else
//! Polars prepares them and hands them over in a directory every executor reads (`hand_over`, `reduce`);
//! the cluster computes the reductions' row inputs, groups and reduces them (sums, counts, distinct counts,
//! exact percentiles, Spearman's ranks); Polars computes every formula after the reductions, as in a local
//! run, and the sinks write the same outputs.

mod coverage;
pub mod process;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use polars::prelude::*;

pub use coverage::{coverage, Coverage};

use crate::error::Error;
use crate::exec::aggregate::compile::{quoted, Ordered, SqlReductions, SPEARMAN_SUMS};
use crate::exec::{not_dropped, StoreRows, NOT_DROPPED, PARTS};

/// How long one query may take before the run gives up (`DESKPULSE_CLUSTER_TIMEOUT`, seconds).
const QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// A connection to a Ballista scheduler, and the directory the rows are handed over in.
pub struct Cluster {
    url: String,
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    exchange: PathBuf,
    next: AtomicUsize,
    timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({}, exchange {})", self.url, self.exchange.display())
    }
}

impl Cluster {
    /// Connects to the scheduler at `url` (`df://HOST:PORT`); `exchange` must be a directory every executor
    /// reads at the same path (a shared filesystem).
    pub fn connect(url: &str, exchange: &Path) -> Result<Arc<Cluster>, Error> {
        let fail = |message: String| Error::Cluster { url: url.to_string(), message };
        let address = url
            .strip_prefix("df://")
            .ok_or_else(|| fail("expected df://HOST:PORT (the scheduler's address)".into()))?;
        // The client fails fast on a scheduler that is not there, instead of a query retrying.
        let reachable = std::net::ToSocketAddrs::to_socket_addrs(address)
            .map_err(|e| fail(format!("cannot resolve {address}: {e}")))?
            .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok());
        if !reachable {
            return Err(fail(format!("no scheduler answers at {address}; start one (`deskpulse cluster scheduler`)")));
        }
        std::fs::create_dir_all(exchange)
            .map_err(|e| fail(format!("cannot create the exchange directory {}: {e}", exchange.display())))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let ctx = runtime.block_on(SessionContext::remote(url)).map_err(|e| fail(e.to_string()))?;
        let timeout = std::env::var("DESKPULSE_CLUSTER_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(QUERY_TIMEOUT);
        Ok(Arc::new(Cluster {
            url: url.to_string(),
            runtime,
            ctx,
            exchange: exchange.to_path_buf(),
            next: AtomicUsize::new(0),
            timeout,
        }))
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Cluster { url: self.url.clone(), message: message.to_string() }
    }

    /// `rows` grouped by `keys` and reduced by `sql` on the cluster: one row per group with the keys, the
    /// reductions' columns (`__r<n>`) and those of the ordered reductions.
    pub fn reduce(&self, rows: LazyFrame, keys: &[PlSmallStr], sql: &SqlReductions) -> Result<LazyFrame, Error> {
        let table = format!("rows_{}", self.next.fetch_add(1, Ordering::Relaxed));
        let path = self.exchange.join(format!("{table}.parquet"));
        write_parquet(handed_over(rows, keys, sql)?, &path)?;
        let result = self.register_file(&table, &path).and_then(|_| self.reduce_relation(&table, keys, sql));
        let _ = self.ctx.deregister_table(&table);
        if std::env::var_os("DESKPULSE_KEEP_EXCHANGE").is_none() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    /// `rows` written to the exchange directory once, for any number of reductions (`reduce_handed`); the
    /// file goes when the `HandedOver` does.
    pub fn hand_over(&self, name: &str, rows: LazyFrame) -> Result<HandedOver, Error> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let table = format!("shared_{n}_{name}");
        let path = self.exchange.join(format!("{table}.parquet"));
        let mut rows = plain_text(rows)?;
        let columns = rows.collect_schema()?.iter_names().map(|c| c.to_string()).collect();
        let handed = HandedOver { relation: table.clone(), columns, files: vec![path.clone()] };
        write_parquet(rows, &path)?;
        self.register_file(&table, &path)?;
        Ok(handed)
    }

    /// A table's rows as the executors read them from the store's parts (`exec::StoreRows`), for any number
    /// of reductions: the client writes only the places of the rows dropped and the small tables the rows
    /// are joined to. `None` when one of those or the rows are empty (Ballista waits forever on a stage that
    /// reads an empty file): the client's rows say what the joins give then.
    pub fn read_store(&self, rows: StoreRows) -> Result<Option<HandedOver>, Error> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("store_{n}_{}", rows.table.name());
        let mut lookups = Vec::new();
        for (placeholder, frame) in rows.lookups {
            let frame = plain_text(frame)?.collect()?;
            if frame.height() == 0 {
                return Ok(None);
            }
            lookups.push((placeholder, frame));
        }
        let mut handed =
            HandedOver { relation: String::new(), columns: rows.columns.into_iter().collect(), files: vec![] };
        let mut query = rows.query;
        let dropped = rows.dropped.collect()?;
        let kept = match dropped.height() {
            0 => "TRUE".to_string(),
            _ => {
                let table = format!("{name}_dropped");
                self.hand_over_small(&mut handed, &table, dropped)?;
                not_dropped(&table)
            },
        };
        query = query.replace(NOT_DROPPED, &kept);
        for (placeholder, frame) in lookups {
            let table = format!("{name}_{}", placeholder.trim_matches(|c| c == '{' || c == '}'));
            self.hand_over_small(&mut handed, &table, frame)?;
            query = query.replace(placeholder, &table);
        }
        let parts = format!("{name}_parts");
        let paths: Vec<String> = rows.parts.iter().map(|p| p.to_string_lossy().to_string()).collect();
        let scanned = self.block_on(self.ctx.read_parquet(paths, ParquetReadOptions::default()))?;
        self.ctx.register_table(parts.as_str(), scanned.into_view()).map_err(|e| self.error(e))?;
        query = query.replace(PARTS, &parts);
        if std::env::var_os("DESKPULSE_TRACE").is_some() {
            eprintln!("{name}: {query}");
        }
        // The executors prepare the rows once, each its share, into the exchange directory, and every
        // reduction reads them there: a query over the parts for each reduction would judge, derive and join
        // every row again (1M tickets, full catalog: 28 s against 21 s on one machine).
        let dir = self.exchange.join(&name);
        handed.files.push(dir.clone());
        let written = self.query(&format!("COPY ({query}) TO '{}' STORED AS PARQUET", dir.display()))?;
        let rows_written = written.columns().first().and_then(|c| c.cast(&DataType::UInt64).ok());
        if rows_written.is_none_or(|c| c.u64().ok().and_then(|c| c.sum()).unwrap_or(0) == 0) {
            // No row, hence maybe no file to read: the client's (empty) rows stand.
            return Ok(None);
        }
        let location = format!("{}/", dir.display());
        self.block_on(self.ctx.register_parquet(name.as_str(), &location, ParquetReadOptions::default()))?;
        handed.relation = name;
        Ok(Some(handed))
    }

    /// `frame` written to the exchange directory as table `table`, a file of `handed`'s.
    fn hand_over_small(&self, handed: &mut HandedOver, table: &str, frame: DataFrame) -> Result<(), Error> {
        let path = self.exchange.join(format!("{table}.parquet"));
        handed.files.push(path.clone());
        write_parquet(frame.lazy(), &path)?;
        self.register_file(table, &path)
    }

    /// `reduce` of rows handed over already, which hold the columns `sql` reads (`HandedOver::holds`).
    pub fn reduce_handed(
        &self,
        rows: &HandedOver,
        keys: &[PlSmallStr],
        sql: &SqlReductions,
    ) -> Result<LazyFrame, Error> {
        self.reduce_relation(&rows.relation, keys, sql)
    }

    fn register_file(&self, table: &str, path: &Path) -> Result<(), Error> {
        let location = path.to_string_lossy().to_string();
        self.block_on(self.ctx.register_parquet(table, &location, ParquetReadOptions::default()))
    }

    /// The rows of `relation` (a registered table, or a subquery with its alias) grouped and reduced.
    fn reduce_relation(&self, relation: &str, keys: &[PlSmallStr], sql: &SqlReductions) -> Result<LazyFrame, Error> {
        if keys.is_empty() && !sql.ordered.is_empty() {
            return Err(self.error("ordered reductions (quantiles, ranks) need group keys"));
        }
        // The rows the queries read: the period starts and the inputs SQL can express are computed here,
        // from the columns handed over.
        let computed: Vec<String> =
            sql.computed_keys.iter().chain(&sql.lowered).map(|(e, name)| format!("{e} AS {}", quoted(name))).collect();
        let rows = match computed.is_empty() {
            true => relation.to_string(),
            false => format!("(SELECT *, {} FROM {relation}) AS rows", computed.join(", ")),
        };
        let key_list = keys.iter().map(|k| quoted(k)).collect::<Vec<_>>().join(", ");
        let mut items: Vec<String> = keys.iter().map(|k| quoted(k)).collect();
        items.extend(sql.items.iter().map(|(e, name)| format!("{e} AS {}", quoted(name))));
        let main = match keys.is_empty() {
            true => format!("SELECT {} FROM {rows}", items.join(", ")),
            false => format!("SELECT {} FROM {rows} GROUP BY {key_list}", items.join(", ")),
        };
        let mut grouped = self.query(&main)?.lazy();
        for ordered in &sql.ordered {
            let sums = self.query(&ordered_query(&rows, &key_list, ordered))?;
            let mut args = JoinArgs::new(JoinType::Left);
            args.nulls_equal = true;
            let on: Vec<Expr> = keys.iter().map(|k| col(k.clone())).collect();
            grouped = grouped.join(sums.lazy(), on.clone(), on, args);
        }
        Ok(grouped.collect()?.lazy())
    }

    /// One query's result as a Polars frame.
    fn query(&self, sql: &str) -> Result<DataFrame, Error> {
        let (schema, batches) = self.block_on(async {
            let df = self.ctx.sql(sql).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            Ok::<_, datafusion::error::DataFusionError>((schema, df.collect().await?))
        })?;
        frame_of(schema, &batches).map_err(|e| self.error(format!("reading a result back: {e}")))
    }

    fn block_on<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, datafusion::error::DataFusionError>>,
    ) -> Result<T, Error> {
        match self.runtime.block_on(async { tokio::time::timeout(self.timeout, work).await }) {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(_) => Err(self.error(format!("no answer within {} s", self.timeout.as_secs()))),
        }
    }
}

/// Rows on the cluster that several reductions read (`Cluster::hand_over`, `Cluster::read_store`), and
/// their columns.
pub struct HandedOver {
    /// The registered table the queries read them from.
    relation: String,
    columns: std::collections::BTreeSet<String>,
    /// The files (and folders of files) written to the exchange directory for them.
    files: Vec<PathBuf>,
}

impl HandedOver {
    /// Whether a query grouping by `keys` and reducing by `sql` can read these rows: they hold the keys it does
    /// not compute and the columns its inputs read, and it has no input the client computes.
    pub fn holds(&self, keys: &[PlSmallStr], sql: &SqlReductions) -> bool {
        sql.inputs.is_empty()
            && keys.iter().filter(|k| !sql.computes_key(k)).all(|k| self.columns.contains(k.as_str()))
            && sql.columns.iter().all(|c| self.columns.contains(c))
    }
}

impl Drop for HandedOver {
    fn drop(&mut self) {
        if std::env::var_os("DESKPULSE_KEEP_EXCHANGE").is_none() {
            for file in &self.files {
                let _ = match file.is_dir() {
                    true => std::fs::remove_dir_all(file),
                    false => std::fs::remove_file(file),
                };
            }
        }
    }
}

/// `rows` streamed to a Parquet file at `path`: the client never holds them.
fn write_parquet(rows: LazyFrame, path: &Path) -> Result<(), Error> {
    let target = SinkTarget::Path(PlRefPath::new(path.to_string_lossy().as_ref()));
    let format = FileWriteFormat::Parquet(Arc::new(ParquetWriteOptions::default()));
    rows.sink(SinkDestination::File { target }, format, UnifiedSinkArgs::default())?
        .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// The rows as the cluster gets them: the keys (text, dates), the columns the lowered inputs read and the
/// inputs the client computes.
fn handed_over(rows: LazyFrame, keys: &[PlSmallStr], sql: &SqlReductions) -> Result<LazyFrame, Error> {
    let handed: Vec<&PlSmallStr> = keys.iter().filter(|k| !sql.computes_key(k)).collect();
    let mut columns: Vec<Expr> = handed.iter().map(|k| col((*k).clone())).collect();
    let read = sql.columns.iter().filter(|c| !handed.iter().any(|k| k.as_str() == c.as_str()));
    columns.extend(read.map(|c| col(c.as_str())));
    columns.extend(sql.inputs.iter().cloned());
    plain_text(rows.select(columns))
}

/// `rows` with dictionary-coded text decoded, so that every engine reads plain strings.
fn plain_text(mut rows: LazyFrame) -> Result<LazyFrame, Error> {
    let schema = rows.collect_schema()?;
    let decoded: Vec<Expr> = schema
        .iter()
        .filter(|(_, dtype)| matches!(dtype, DataType::Categorical(..) | DataType::Enum(..)))
        .map(|(name, _)| col(name.clone()).cast(DataType::String))
        .collect();
    Ok(match decoded.is_empty() {
        true => rows,
        false => rows.with_columns(decoded),
    })
}

/// The query of a reduction over each group's rows in order (`Ordered`). Every window is partitioned by
/// the group's keys alone and is the only one of its SELECT: Ballista 55 was seen to compute wrong ranks
/// when windows partitioned by the keys and by the keys and a value were nested in one plan. `rows` is a
/// table or a subquery.
fn ordered_query(rows: &str, keys: &str, ordered: &Ordered) -> String {
    let window = |from: &str, e: &str, name: &str| {
        format!("SELECT *, {e} OVER (PARTITION BY {keys}) AS {name} FROM ({from}) AS s")
    };
    let ranked = |from: &str, e: &str, order: &str, name: &str| {
        format!("SELECT *, {e} OVER (PARTITION BY {keys} ORDER BY {order}) AS {name} FROM ({from}) AS s")
    };
    let named = |e: String, prefix: &str, name: &str| format!("{e} AS {}", quoted(&format!("{prefix}_{name}")));
    match ordered {
        Ordered::Quantiles { x, qs, prefix } => {
            let qx = quoted(x);
            let mut from = format!("SELECT {keys}, {qx} FROM {rows} WHERE {qx} IS NOT NULL");
            from = ranked(&from, "ROW_NUMBER()", &qx, "__row");
            from = window(&from, "COUNT(*)", "__rows");
            let mut items = vec![named("MAX(__rows)".into(), prefix, "n")];
            for (j, q) in qs.iter().enumerate() {
                let below = format!("CAST(FLOOR(CAST(__rows - 1 AS DOUBLE) * {q:?}) AS BIGINT)");
                let at = |offset: u32| format!("MAX(CASE WHEN __row = {below} + {offset} THEN {qx} END)");
                items.push(named(at(1), prefix, &format!("{j}_lo")));
                items.push(named(at(2), prefix, &format!("{j}_hi")));
            }
            format!("SELECT {keys}, {} FROM ({from}) AS ordered GROUP BY {keys}", items.join(", "))
        },
        Ordered::Spearman { x, y, prefix } => {
            let (qx, qy) = (quoted(x), quoted(y));
            let mut from = format!("SELECT {keys}, {qx}, {qy} FROM {rows} WHERE {qx} IS NOT NULL AND {qy} IS NOT NULL");
            from = ranked(&from, "RANK()", &qx, "__x_up");
            from = ranked(&from, "RANK()", &format!("{qx} DESC"), "__x_down");
            from = ranked(&from, "RANK()", &qy, "__y_up");
            from = ranked(&from, "RANK()", &format!("{qy} DESC"), "__y_down");
            let (a, b) = (
                "(CAST(__x_up AS DOUBLE) - CAST(__x_down AS DOUBLE))",
                "(CAST(__y_up AS DOUBLE) - CAST(__y_down AS DOUBLE))",
            );
            let sums = [
                "CAST(COUNT(*) AS DOUBLE)".to_string(),
                format!("SUM({a})"),
                format!("SUM({b})"),
                format!("SUM({a} * {b})"),
                format!("SUM({a} * {a})"),
                format!("SUM({b} * {b})"),
            ];
            let items: Vec<String> =
                sums.into_iter().zip(SPEARMAN_SUMS).map(|(e, sum)| named(e, prefix, sum)).collect();
            format!("SELECT {keys}, {} FROM ({from}) AS ordered GROUP BY {keys}", items.join(", "))
        },
    }
}

/// Record batches as a Polars frame, through Parquet in memory: the two engines use different Arrow
/// implementations, and Parquet is the format both read and write.
fn frame_of(schema: datafusion::arrow::datatypes::SchemaRef, batches: &[RecordBatch]) -> Result<DataFrame, String> {
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).map_err(|e| e.to_string())?;
    for batch in batches {
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    ParquetReader::new(std::io::Cursor::new(bytes)).finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_window_is_partitioned_by_the_keys_alone_in_a_select_of_its_own() {
        let spearman = Ordered::Spearman { x: "__i0".into(), y: "__i1".into(), prefix: "__rank0".into() };
        let quantiles = Ordered::Quantiles { x: "__i2".into(), qs: vec![0.5, 0.9], prefix: "__q1".into() };
        for (ordered, windows) in [(spearman, 4), (quantiles, 2)] {
            let q = ordered_query("rows_0", "\"agent_id\", \"period_start\"", &ordered);
            assert_eq!(q.matches(" OVER ").count(), windows, "{q}");
            assert_eq!(
                q.matches("PARTITION BY \"agent_id\", \"period_start\")").count()
                    + q.matches("PARTITION BY \"agent_id\", \"period_start\" ORDER BY").count(),
                windows,
                "{q}"
            );
            for select in q.split("SELECT").skip(1) {
                assert!(select.matches(" OVER ").count() <= 1, "{select}");
            }
        }
    }

    #[test]
    fn shared_rows_serve_a_query_only_when_they_hold_every_column_it_reads() {
        let handed = HandedOver {
            relation: "shared_0".into(),
            columns: ["sector", "created_at", "csat"].map(String::from).into(),
            files: Vec::new(),
        };
        let keys: Vec<PlSmallStr> = vec!["sector".into(), "period_start".into()];
        let mut sql = SqlReductions::default();
        sql.columns.insert("csat".into());
        // The period start is neither handed over nor computed by the cluster.
        assert!(!handed.holds(&keys, &sql));
        sql.compute_key("period_start", &col("created_at").dt().truncate(lit("1mo")));
        assert!(handed.holds(&keys, &sql));
        sql.columns.insert("channel".into());
        assert!(!handed.holds(&keys, &sql));
        sql.columns.remove("channel");
        sql.inputs.push(col("csat").alias("__i9"));
        assert!(!handed.holds(&keys, &sql), "an input the client computes is not in the shared rows");
    }
}

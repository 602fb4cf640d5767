-- Core KPIs by sector x channel x month in DuckDB SQL: an independent reference for deskpulse (same definitions
-- as docs/kpis.md). benches/reference_duckdb.py fills in __SRC__, __OUT__ and the readers of the dump's
-- ticket and rating files (CSV or Parquet), __TICKETS__ and __RATINGS__.
CREATE TEMP VIEW t AS
SELECT t.*, a.sector,
       CASE via WHEN 'voice' THEN 'phone' WHEN 'web' THEN 'email' WHEN 'twitter' THEN 'social' ELSE via END AS channel,
       date_trunc('month', created_at)::DATE AS period_start,
       solved_at IS NOT NULL AND status IN ('solved', 'closed') AND coalesce(tags, '') NOT LIKE '%abandoned%' AS resolved,
       (epoch_ms(first_replied_at) - epoch_ms(created_at)) / 1000.0 AS frt
FROM __TICKETS__ t
LEFT JOIN (SELECT "Account ID" AS account_id, Industry AS sector
           FROM read_csv('__SRC__/crm/accounts.csv', delim = ';', header = true)) a
       ON a.account_id = t.organization_id
WHERE created_at >= TIMESTAMP '2025-01-01' AND created_at < TIMESTAMP '2026-01-01';

CREATE TEMP VIEW t2 AS
SELECT *, CASE WHEN resolved THEN (epoch_ms(solved_at) - epoch_ms(created_at)) / 1000.0 END AS rt FROM t;

CREATE TEMP TABLE wide AS
SELECT sector, channel, period_start,
       count(*)::DOUBLE AS ticket_volume__value,
       avg(frt) AS first_response_time__mean,
       quantile_cont(frt, 0.5) AS first_response_time__median,
       quantile_cont(frt, 0.9) AS first_response_time__p90,
       avg(rt) AS resolution_time__mean,
       quantile_cont(rt, 0.5) AS resolution_time__median,
       quantile_cont(rt, 0.9) AS resolution_time__p90,
       100.0 * count(*) FILTER (resolved) / count(*) AS resolution_rate__value,
       100.0 * count(*) FILTER (resolved AND replies <= 1 AND reopens = 0) / nullif(count(*) FILTER (resolved), 0) AS fcr_rate__value,
       100.0 * count(*) FILTER (coalesce(tags, '') LIKE '%escalated%') / count(*) AS escalation_rate__value
FROM t2 GROUP BY ALL;

CREATE TEMP TABLE csat AS
SELECT t.sector, t.channel, date_trunc('month', r.created_at)::DATE AS period_start,
       100.0 * count(*) FILTER (r.score = 'good') / count(*) AS csat__value
FROM __RATINGS__ r
LEFT JOIN t ON t.id = r.ticket_id
WHERE r.created_at >= TIMESTAMP '2025-01-01' AND r.created_at < TIMESTAMP '2026-01-01'
GROUP BY ALL;

COPY (
  SELECT sector, channel, period_start, split_part(kpi_stat, '__', 1) AS kpi, split_part(kpi_stat, '__', 2) AS stat, value
  FROM (UNPIVOT wide ON COLUMNS(* EXCLUDE (sector, channel, period_start)) INTO NAME kpi_stat VALUE value)
  UNION ALL
  SELECT sector, channel, period_start, 'csat', 'value', csat__value FROM csat
) TO '__OUT__' (HEADER);

"""The whole catalog of a generated dump's pipeline.yaml (message log, NPS/CES/eNPS, spend), hand-written in DuckDB
SQL: the twin of `reference_catalog.py DIR OUT whole`, written from docs/kpis.md and docs/pipeline-format.md,
not from either engine's code. Same outputs: OUT_DIR/<segment>.parquet, long format (the segment's dimensions,
period_start, kpi, stat, value, n), checked row by row by `agree_catalog.py DESKPULSE_OUT OUT_DIR whole`.
Usage: reference_duckdb_catalog.py GENERATED_DIR OUT_DIR
"""
import glob
import os
import re
import sys
from datetime import date, datetime, timedelta

import duckdb

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
FROM, TO = re.search(r"window: \{ from: (\S+), to: (\S+) \}", open(f"{src}/pipeline.yaml").read()).groups()
AS_OF = TO  # run with --as-of the window's end
PLAUSIBLE_TO = max(date.today(), date.fromisoformat(TO)) + timedelta(days=1)
CSV = not glob.glob(f"{src}/zendesk/tickets-*.parquet")
FRT_TARGET = {"chat": 60, "phone": 120, "social": 4 * 3600, "email": 24 * 3600}
RESOLUTION_TARGET = 2 * 86400
db = duckdb.connect()


def table(pattern, delim=","):
    """A glob of the dump's files, CSV read as text (typed below), Parquet as written."""
    if CSV or not glob.glob(f"{src}/{pattern}.parquet"):
        return f"read_csv('{src}/{pattern}.csv', all_varchar = true, header = true, delim = '{delim}')"
    return f"read_parquet('{src}/{pattern}.parquet')"


def instant(c):
    return f"strptime({c}, '%Y-%m-%dT%H:%M:%SZ')" if CSV else f"{c}::TIMESTAMP"


def plausible(*cs):
    return " AND ".join(f"({c} IS NULL OR ({c} >= TIMESTAMP '2000-01-01' AND {c} < TIMESTAMP '{PLAUSIBLE_TO}'))" for c in cs)


def run(sql):
    db.execute(sql)


run(f"""CREATE TABLE accounts AS SELECT "Account ID" AS account_id, "Industry" AS sector,
    strptime("Customer Since", '%d/%m/%Y')::DATE AS since, strptime("Churn Date", '%d/%m/%Y')::DATE AS churned,
    replace("Annual Revenue (EUR)", ',', '.')::DOUBLE AS revenue
  FROM {table('crm/accounts', ';')}""")
run(f"""CREATE TABLE raw_tickets AS SELECT * FROM (SELECT id::VARCHAR AS ticket_id, {instant('created_at')} AS created,
    {instant('first_replied_at')} AS replied, {instant('solved_at')} AS solved, status,
    CASE via WHEN 'voice' THEN 'phone' WHEN 'web' THEN 'email' WHEN 'twitter' THEN 'social' ELSE via END AS channel,
    "type" AS category, assignee_email AS agent_id, organization_id::VARCHAR AS account_id,
    coalesce(tags, '') LIKE '%escalated%' AS escalated, coalesce(tags, '') LIKE '%abandoned%' AS abandoned,
    reopens::BIGINT AS reopens, replies::BIGINT AS replies,
    talk_time_sec::DOUBLE AS handle, hold_time_sec::DOUBLE AS wait
  FROM {table('zendesk/tickets-*')}) WHERE {plausible('created', 'replied', 'solved')}""")
# The message log: public customer and agent messages of known tickets, in the order the export lists them.
files = sorted(glob.glob(f"{src}/zendesk/ticket_messages-*.{'csv' if CSV else 'parquet'}"))
reads = [
    f"""SELECT {i} AS file, row_number() OVER () AS row, ticket_id::VARCHAR AS ticket_id, {instant('created_at')} AS sent,
        CASE author_type WHEN 'end-user' THEN 'customer' ELSE author_type END AS role,
        lower(public::VARCHAR) = 'true' AS public
      FROM {f"read_csv('{f}', all_varchar = true, header = true)" if CSV else f"read_parquet('{f}')"}"""
    for i, f in enumerate(files)
]
run(f"""CREATE TABLE talk AS SELECT * FROM ({' UNION ALL '.join(reads)})
  WHERE {plausible('sent')} AND public AND role IN ('customer', 'agent')
    AND ticket_id IN (SELECT ticket_id FROM raw_tickets)""")
# First replies and reply counts from the log fill the tickets where the export has none.
run("""CREATE TABLE tickets_all AS SELECT t.* REPLACE (coalesce(t.replied, l.replied) AS replied,
    coalesce(t.replies, l.replies, 0) AS replies),
    CASE WHEN status IN ('solved', 'closed') AND NOT abandoned THEN solved END AS resolved_at, a.sector
  FROM raw_tickets t
  LEFT JOIN (SELECT m.ticket_id, min(m.sent) FILTER (WHERE m.sent > t.created) AS replied, count(*) AS replies
             FROM talk m JOIN raw_tickets t USING (ticket_id) WHERE m.role = 'agent' GROUP BY m.ticket_id) l USING (ticket_id)
  LEFT JOIN accounts a USING (account_id)""")
run(f"""CREATE TABLE answers AS SELECT * FROM (
    SELECT ticket_id::VARCHAR AS ticket_id, assignee_email AS agent_id, NULL::VARCHAR AS account_id, 'csat' AS kind,
      CASE score WHEN 'good' THEN 5.0 WHEN 'bad' THEN 1.0 END AS score, {instant('created_at')} AS submitted
    FROM {table('zendesk/satisfaction_ratings-*')}
    UNION ALL
    SELECT "Ticket"::VARCHAR, NULL, "Company ID"::VARCHAR,
      CASE "Survey Type" WHEN 'NPS' THEN 'nps' WHEN 'Customer Effort' THEN 'ces' ELSE "Survey Type" END,
      "Score"::DOUBLE, {instant('"Submitted"')}
    FROM {table('surveys/responses-*')}
    UNION ALL
    SELECT NULL, respondent, NULL, 'enps', answer::DOUBLE, strptime(answered_on, '%Y-%m-%d')
    FROM read_csv('{src}/hr/enps.csv', all_varchar = true, header = true))
  WHERE {plausible('submitted')} AND (ticket_id IS NULL OR ticket_id IN (SELECT ticket_id FROM tickets_all))""")
target = " ".join(f"WHEN '{c}' THEN {t}" for c, t in FRT_TARGET.items())
run(f"""CREATE TABLE tickets AS SELECT *,
    replied IS NOT NULL AND frt <= frt_target AS sla_met,
    frt_target IS NOT NULL AND (replied IS NOT NULL OR created + to_seconds(frt_target) < TIMESTAMP '{AS_OF}') AS sla_counted
  FROM (SELECT *, resolved_at IS NOT NULL AS resolved,
      (epoch_ms(replied) - epoch_ms(created)) / 1000.0 AS frt,
      (epoch_ms(resolved_at) - epoch_ms(created)) / 1000.0 AS rt,
      channel IN ('phone', 'chat') AS queue,
      ticket_id IN (SELECT ticket_id FROM answers WHERE ticket_id IS NOT NULL) AS has_survey,
      CASE channel {target} END::DOUBLE AS frt_target
    FROM tickets_all WHERE created >= TIMESTAMP '{FROM}' AND created < TIMESTAMP '{TO}')""")
# A wait starts at a customer message that opens the ticket's talk or follows an agent reply, and ends at the
# next agent message; open waits are left out. Waits belong to their ticket's period and dimensions.
run("""CREATE TABLE reply_waits AS SELECT t.created, t.sector, t.channel, t.agent_id,
    (epoch_ms(w.answered) - epoch_ms(w.sent)) / 1000.0 AS nrt
  FROM (SELECT ticket_id, sent, role, lag(role) OVER o AS previous,
      first_value(CASE WHEN role = 'agent' THEN sent END IGNORE NULLS) OVER (o ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS answered
    FROM talk WINDOW o AS (PARTITION BY ticket_id ORDER BY sent, file, row)) w
  JOIN tickets t USING (ticket_id)
  WHERE w.role = 'customer' AND coalesce(w.previous, 'agent') = 'agent' AND w.answered IS NOT NULL""")
run(f"""CREATE TABLE surveys AS SELECT a.kind, a.score, a.submitted, t.channel,
    coalesce(a.agent_id, t.agent_id) AS agent_id, c.sector,
    (epoch_ms(t.replied) - epoch_ms(t.created)) / 1000.0 AS replied_frt
  FROM answers a LEFT JOIN tickets_all t USING (ticket_id)
  LEFT JOIN accounts c ON c.account_id = coalesce(a.account_id, t.account_id)
  WHERE a.submitted >= TIMESTAMP '{FROM}' AND a.submitted < TIMESTAMP '{TO}'""")
run(f"""CREATE TABLE spend AS SELECT strptime(month || '-01', '%Y-%m-%d')::DATE AS period, amount::DOUBLE AS amount
  FROM read_csv('{src}/marketing/spend.csv', all_varchar = true, header = true)""")


def stats(kpi, x, where, quantiles=True):
    f = f"FILTER (WHERE {where})"
    out = [(kpi, "mean", f"avg({x}) {f}", f"count({x}) {f}")]
    if quantiles:
        out += [(kpi, "median", f"quantile_cont({x}, 0.5) {f}", f"count({x}) {f}"),
                (kpi, "p90", f"quantile_cont({x}, 0.9) {f}", f"count({x}) {f}")]
    return out


def rate(kpi, hit, where="true"):
    return [(kpi, "value", f"100.0 * count_if(({hit}) AND ({where})) / count_if({where})", f"count_if({where})")]


def ticket_measures(kpis):
    m = {
        "ticket_volume": [("ticket_volume", "value", "count(*)::DOUBLE", "count(*)")],
        "first_response_time": stats("first_response_time", "frt", "replied IS NOT NULL"),
        "resolution_time": stats("resolution_time", "rt", "resolved"),
        "handle_time": stats("handle_time", "handle", "handle IS NOT NULL", False),
        "wait_time": stats("wait_time", "wait", "queue AND wait IS NOT NULL", False),
        "resolution_rate": rate("resolution_rate", "resolved"),
        "fcr_rate": rate("fcr_rate", "replies <= 1 AND reopens = 0", "resolved"),
        "escalation_rate": rate("escalation_rate", "escalated"),
        "reopen_rate": rate("reopen_rate", "reopens > 0", "resolved"),
        "abandonment_rate": rate("abandonment_rate", "abandoned", "queue"),
        "exchanges_per_resolution": [("exchanges_per_resolution", "value", "avg(replies) FILTER (WHERE resolved)",
                                      "count(replies) FILTER (WHERE resolved)")],
        "tickets_per_agent_day": [("tickets_per_agent_day", "value",
                                   "count(agent_id) / (count(DISTINCT agent_id) * any_value(days))", "count(agent_id)")],
        "survey_response_rate": rate("survey_response_rate", "has_survey", "resolved"),
        "sla_attainment": rate("sla_attainment", "sla_met", "sla_counted"),
        "resolution_sla_attainment": rate("resolution_sla_attainment", f"rt <= {RESOLUTION_TARGET}", "resolved"),
    }
    return [row for k in kpis if k in m for row in m[k]]


def survey_measures(kpis):
    n = "count(*)"
    m = {"csat": [("csat", "value", f"100.0 * count_if(score >= 4) / {n}", n, "kind = 'csat'"),
                  ("csat", "mean", "avg(score)", n, "kind = 'csat'")],
         "ces": [("ces", "value", "avg(score)", n, "kind = 'ces'"),
                 ("ces", "easy_share", f"100.0 * count_if(score >= 6) / {n}", n, "kind = 'ces'")]}
    for kind in ["nps", "enps"]:
        p, q = f"(count_if(score >= 9) / {n})", f"(count_if(score <= 6) / {n})"
        m[kind] = [(kind, "value", f"100.0 * ({p} - {q})", n, f"kind = '{kind}'"),
                   (kind, "margin_of_error", f"1.96 * sqrt(({p} + {q} - ({p} - {q}) ^ 2) / {n}) * 100.0", n, f"kind = '{kind}'")]
    return [row for k in kpis if k in m for row in m[k]]


def longer(select_from, by, measures, where="true"):
    """One row per KPI and stat: a grouped select for each, united."""
    keys = ", ".join(by + ["period_start"])
    return " UNION ALL ".join(
        f"SELECT {keys}, '{k}' AS kpi, '{s}' AS stat, ({v})::DOUBLE AS value, ({c})::BIGINT AS n "
        f"FROM {select_from} WHERE {where} GROUP BY {keys}" for k, s, v, c in measures)


def segment(by, kpis):
    """A month-grain segment's rows, long format."""
    dims = by
    start = "date_trunc('month', {})::DATE"
    placed = f"(SELECT *, {start.format('created')} AS period_start, 0 AS _ FROM tickets) t"
    tickets = f"(SELECT *, date_diff('day', period_start, (period_start + INTERVAL 1 MONTH)::DATE) AS days FROM {placed})"
    parts = [longer(tickets, dims, ticket_measures(kpis))]
    answers = f"(SELECT *, {start.format('submitted')} AS period_start FROM surveys)"
    for k, s, v, c, where in survey_measures(kpis):
        parts.append(longer(answers, dims, [(k, s, v, c)], where))
    keys = ", ".join(dims + ["period_start"])
    if "frt_csat_correlation" in kpis:
        # Average ranks: a tie's first rank plus half the tie's size less one.
        ranked = f"""(SELECT {keys},
            rank() OVER (PARTITION BY {keys} ORDER BY replied_frt) + (count(*) OVER (PARTITION BY {keys}, replied_frt) - 1) / 2.0 AS rf,
            rank() OVER (PARTITION BY {keys} ORDER BY score) + (count(*) OVER (PARTITION BY {keys}, score) - 1) / 2.0 AS rs
          FROM {answers} WHERE kind = 'csat' AND replied_frt IS NOT NULL)"""
        parts.append(f"SELECT {keys}, 'frt_csat_correlation' AS kpi, 'value' AS stat, corr(rf, rs) AS value, "
                     f"count(*)::BIGINT AS n FROM {ranked} GROUP BY {keys} HAVING count(*) >= 2")
    if "next_reply_time" in kpis:
        waits = f"(SELECT *, {start.format('created')} AS period_start FROM reply_waits)"
        parts.append(longer(waits, dims, stats("next_reply_time", "nrt", "true")))
    for mix, column in [("channel_mix", "channel"), ("category_mix", "category")]:
        if mix in kpis:
            parts.append(f"""SELECT {keys}, '{mix}' AS kpi, coalesce({column}, '(none)') AS stat,
                100.0 * count(*) / sum(count(*)) OVER (PARTITION BY {keys}) AS value,
                (sum(count(*)) OVER (PARTITION BY {keys}))::BIGINT AS n FROM {placed} GROUP BY {keys}, {column}""")
    periods = f"""(SELECT DISTINCT {start.format('created')} AS period_start,
        ({start.format('created')} + INTERVAL 1 MONTH)::DATE AS period_end FROM tickets) p"""
    if "backlog" in kpis:
        # Every ticket created before the period end and not resolved by it (a ticket resolved at the end is not).
        parts.append(f"""SELECT {keys}, 'backlog' AS kpi, 'value' AS stat,
            count_if(resolved_at IS NULL OR resolved_at > period_end)::DOUBLE AS value, count(*) AS n
          FROM tickets_all JOIN {periods} ON created < period_end GROUP BY {keys}""")
    if "retention_rate" in kpis:
        customer = "(since < {d} AND (churned IS NULL OR churned >= {d}))"
        s, e = customer.format(d="period_start"), customer.format(d="period_end")
        counts = f"""(SELECT {keys}, count_if({s}) AS S, count_if({e}) AS E,
            count_if(since >= period_start AND since < period_end) AS N,
            count_if(coalesce({s} AND churned >= period_start AND churned < period_end, false)) AS C
          FROM accounts, {periods} GROUP BY {keys} HAVING count_if({s}) > 0)"""
        parts.append(f"SELECT {keys}, 'retention_rate' AS kpi, 'value' AS stat, 100.0 * (E - N) / S AS value, S::BIGINT AS n FROM {counts}")
        parts.append(f"SELECT {keys}, 'churn_rate' AS kpi, 'value' AS stat, 100.0 * C / S AS value, S::BIGINT AS n FROM {counts}")
    if "cac" in kpis:
        acquired = f"""(SELECT * FROM (SELECT period_start, period_end,
            (SELECT sum(amount) FROM spend WHERE period >= period_start AND period < period_end) AS spent,
            (SELECT count(*) FROM accounts WHERE since >= period_start AND since < period_end) AS acquired,
            (SELECT avg(revenue) FROM accounts WHERE since < period_end AND (churned IS NULL OR churned >= period_end)) AS revenue,
            (SELECT count(revenue) FROM accounts WHERE since < period_end AND (churned IS NULL OR churned >= period_end)) AS customers,
            (SELECT avg(date_diff('day', since, churned) / 365.25) FROM accounts WHERE churned < period_end) AS years
          FROM {periods}) WHERE acquired > 0)"""
        parts.append(f"SELECT period_start, 'cac' AS kpi, 'value' AS stat, spent / acquired AS value, acquired AS n FROM {acquired}")
        parts.append(f"""SELECT period_start, 'clv' AS kpi, 'value' AS stat, revenue * years - spent / acquired AS value,
            customers AS n FROM {acquired} WHERE customers > 0 AND years IS NOT NULL""")
    united = " UNION ALL ".join(f"SELECT {keys}, kpi, stat, value, n FROM ({p})" for p in parts)
    return f"SELECT * FROM ({united}) WHERE value IS NOT NULL AND isfinite(value) AND n > 0"


TICKET = ["ticket_volume", "first_response_time", "resolution_time", "handle_time", "wait_time", "resolution_rate",
          "fcr_rate", "escalation_rate", "reopen_rate", "abandonment_rate", "exchanges_per_resolution",
          "tickets_per_agent_day", "survey_response_rate", "channel_mix", "category_mix", "sla_attainment",
          "resolution_sla_attainment", "backlog"]
ALL = TICKET + ["csat", "nps", "ces", "enps", "frt_csat_correlation", "next_reply_time", "retention_rate", "churn_rate"]
SEGMENTS = {
    "sector_channel_month": (["sector", "channel"], [
        "ticket_volume", "first_response_time", "resolution_time", "handle_time", "wait_time", "resolution_rate",
        "fcr_rate", "escalation_rate", "reopen_rate", "abandonment_rate", "csat", "next_reply_time",
        "sla_attainment", "resolution_sla_attainment"]),
    "sector_month": (["sector"], ALL),
    "agent_month": (["agent_id"], ["ticket_volume", "first_response_time", "resolution_time", "handle_time", "fcr_rate",
                                   "csat", "next_reply_time", "tickets_per_agent_day", "enps"]),
    "overall_month": ([], ALL + ["cac", "clv"]),
}
for name, (by, kpis) in SEGMENTS.items():
    db.execute(f"COPY ({segment(by, kpis)}) TO '{out}/{name}.parquet' (FORMAT parquet)")

-- DuckDB views over a deskpulse output directory written with the `single` layout (OUT/<table>.parquet).
-- Set the directory first:  SET VARIABLE out_dir = 'out';  then run this file (duckdb -init, or .read).
-- Each view is a KPI table in long format: its dimensions, period_start, kpi, stat, value, unit, numerator,
-- denominator, n, low_sample. Roll ratios up with sum(numerator) / sum(denominator), never avg(value).
CREATE OR REPLACE MACRO kpi_file(name) AS getvariable('out_dir') || '/' || name || '.parquet';
CREATE OR REPLACE VIEW kpi_overall_month AS SELECT * FROM read_parquet(kpi_file('overall_month'));
CREATE OR REPLACE VIEW kpi_sector_month AS SELECT * FROM read_parquet(kpi_file('sector_month'));
CREATE OR REPLACE VIEW kpi_channel_month AS SELECT * FROM read_parquet(kpi_file('channel_month'));
CREATE OR REPLACE VIEW kpi_agent_week AS SELECT * FROM read_parquet(kpi_file('agent_week'));
CREATE OR REPLACE VIEW kpi_account_quarter AS SELECT * FROM read_parquet(kpi_file('account_quarter'));
CREATE OR REPLACE VIEW benchmark_sector_month AS SELECT * FROM read_parquet(getvariable('out_dir') || '/benchmarks/sector_month.parquet');
CREATE OR REPLACE VIEW benchmark_account_quarter AS SELECT * FROM read_parquet(getvariable('out_dir') || '/benchmarks/account_quarter.parquet');

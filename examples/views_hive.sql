-- DuckDB views over a deskpulse output directory written with `layout: hive`
-- (OUT/<table>/period_start=YYYY-MM-DD/part-0.parquet; the folder names the period).
-- Set the directory first:  SET VARIABLE out_dir = 'out';  then run this file. Benchmark tables are partitioned the same way
-- (OUT/benchmarks/<table>/period_start=…/part-0.parquet).
CREATE OR REPLACE MACRO kpi_parts(name) AS getvariable('out_dir') || '/' || name || '/*/*.parquet';
CREATE OR REPLACE VIEW kpi_overall_month AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('overall_month'), hive_partitioning = true);
CREATE OR REPLACE VIEW kpi_sector_month AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('sector_month'), hive_partitioning = true);
CREATE OR REPLACE VIEW kpi_channel_month AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('channel_month'), hive_partitioning = true);
CREATE OR REPLACE VIEW kpi_agent_week AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('agent_week'), hive_partitioning = true);
CREATE OR REPLACE VIEW kpi_account_quarter AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('account_quarter'), hive_partitioning = true);
CREATE OR REPLACE VIEW benchmark_sector_month AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('benchmarks/sector_month'), hive_partitioning = true);
CREATE OR REPLACE VIEW benchmark_account_quarter AS SELECT * REPLACE (period_start::DATE AS period_start) FROM read_parquet(kpi_parts('benchmarks/account_quarter'), hive_partitioning = true);

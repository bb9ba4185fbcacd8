"""The floor `payroll bench run` prints beside its own figure: DuckDB, on 2 threads, reading the
same attendance.ndjson. `read`: the file's columns, grouped by worker. `fold`: de-duplicated by
event_id, then the first `in` and the last `out` per worker and local (IST) day, a rough fold.
Prints `seconds peak_rss_mib`. Needs: pip install duckdb
usage: duckdb_read.py read|fold ATTENDANCE.ndjson
"""
import sys
import time

import duckdb

QUERIES = {
    "read": """
        SELECT worker_id, count(*) AS punches
        FROM read_json('{path}', format = 'newline_delimited',
             columns = {{event_id: 'VARCHAR', worker_id: 'VARCHAR', ts: 'VARCHAR', direction: 'VARCHAR', device_id: 'VARCHAR'}})
        GROUP BY worker_id
    """,
    "fold": """
        WITH punches AS (
            SELECT DISTINCT ON (event_id) event_id, worker_id, CAST(ts AS TIMESTAMP) AS punched_at, direction
            FROM read_json('{path}', format = 'newline_delimited',
                 columns = {{event_id: 'VARCHAR', worker_id: 'VARCHAR', ts: 'VARCHAR', direction: 'VARCHAR', device_id: 'VARCHAR'}})
        )
        SELECT worker_id, CAST(punched_at + INTERVAL 330 MINUTE AS DATE) AS day,
               min(punched_at) FILTER (WHERE direction = 'in') AS first_in,
               max(punched_at) FILTER (WHERE direction = 'out') AS last_out
        FROM punches
        GROUP BY worker_id, day
    """,
}

query, path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
rows = con.execute(f"SELECT count(*) FROM ({QUERIES[query].format(path=path)})").fetchone()[0]
seconds = time.perf_counter() - started
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent that started this process.
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f"{seconds:.2f} {peak_kib / 1024:.0f} {rows}")

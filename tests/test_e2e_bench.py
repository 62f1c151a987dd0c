"""benchmarks/e2e_bench.py at a tiny scale, as an operator runs it: it measures every phase the
demo materializes, its last line is machine-readable, the warm pass writes no warehouse data
row (pg_stat counters, which the cold pass's rows show are counting), and it stops the server
it started. No timing is asserted."""

from __future__ import annotations

import math
import re
import sys

from tests.processes import clean_env, home_dir, nothing_left, run  # noqa: F401 (home_dir: fixture)

LAST_LINE = re.compile(r"^e2e cold_s=(\d+\.\d+) warm_s=(\d+\.\d+) warm_vs_cold=(\d+\.\d+) peak_rss_mb=(\d+)$")
WRITES_LINE = re.compile(r"^e2e_writes (.*)$")
REPULL_LINE = re.compile(r"^e2e_repull repull_s=(\d+\.\d+) repull_vs_cold=(\d+\.\d+) repull_data_rows=(\d+)$")


def test_e2e_bench_tiny_scale(home_dir):
    from vetorial_assets.demo import DEMO_JOBS

    result = run(
        [
            sys.executable,
            "benchmarks/e2e_bench.py",
            "--tenants",
            "1",
            "--days",
            "3",
            "--conversations",
            "500",
            "--ads",
            "4",
            "--home",
            str(home_dir),
        ],
        clean_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    lines = result.stdout.strip().splitlines()

    last = LAST_LINE.match(lines[-1])
    assert last, lines[-1]
    cold_s, warm_s, ratio, peak = float(last[1]), float(last[2]), float(last[3]), int(last[4])
    assert cold_s > 0 and warm_s > 0 and peak > 0
    # The ratio of the two times (printed rounded to 10 ms: a few seconds each at this scale).
    assert math.isclose(ratio, warm_s / cold_s, rel_tol=0.02, abs_tol=0.002), (ratio, warm_s, cold_s)

    writes = WRITES_LINE.match(lines[-2])
    assert writes, lines[-2]
    counts = {key: int(value) for key, value in (item.split("=") for item in writes[1].split())}
    # 1 ad account x 4 ads x 6 placements x 3 days, raw and staging; 3 Instagram days; the
    # tenant's conversations: the counters saw the cold pass's rows ...
    assert counts["cold_data_rows"] >= 2 * 4 * 6 * 3 + 3
    # ... and no data row in the warm pass (only the Chatwoot run's audit row in ops)
    assert counts["warm_data_rows"] == 0
    assert counts["warm_ops_rows"] > 0

    # Every phase the demo plans is measured in cold and in the forced re-pull; warm (the
    # demo again, nothing changed) pulls nothing from the Graph API: every day it pulled is
    # fresh, so its range jobs plan no run, and everything else runs again.
    repull = REPULL_LINE.match(lines[-3])
    assert repull, lines[-3]
    assert int(repull[3]) == 0  # re-pulling everything wrote no data row either
    range_phases = {spec.label for spec in DEMO_JOBS if spec.repull is not None}
    assert range_phases == {"meta", "instagram"}
    for spec in DEMO_JOBS:
        phase = spec.label
        assert any(line.startswith(f"  cold {phase} ") for line in lines), phase
        assert any(line.startswith(f"  repull {phase} ") for line in lines), phase
        warm_runs = [line for line in lines if line.startswith(f"  warm {phase} ")]
        assert (warm_runs == []) if phase in range_phases else warm_runs, phase
        warm_count = 0 if phase in range_phases else 1
        assert any(re.match(rf"^{re.escape(phase)}\s+1/{warm_count}/1\s", line) for line in lines), phase
    assert "EXPECTED" not in result.stdout  # every table holds what the sources hold
    assert nothing_left(home_dir), "the bench left its embedded PostgreSQL running"

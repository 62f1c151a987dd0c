"""The machine the code location runs on: the embedded PostgreSQL server (embedded.py, its
lease and reaper), the Dagster instance's dagster.yaml and storage (instance.py,
dagster_storage.py, run_launcher.py), and the supervision of `vetorial up` (supervise.py)."""

def test_fresh_db_is_a_real_empty_postgres(fresh_db):
    with fresh_db.connect() as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
    assert int(version) >= 140000
    assert tables == 0

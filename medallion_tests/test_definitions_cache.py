"""`defs()` is loaded several times per process by dg and the code server; it builds the definitions once per
environment and defs/ files, and again when either changes."""

from medallion import definitions


def test_defs_is_built_once_per_environment(home, monkeypatch):
    first = definitions.defs()
    assert definitions.defs() is first

    monkeypatch.setenv("MEDALLION_END_DATE", "2025-03-31")
    narrowed = definitions.defs()
    assert narrowed is not first
    job = narrowed.resolve_job_def("etl_job")
    assert job.partitions_def.get_last_partition_key() == "2025-03-31"


def test_an_edited_defs_file_is_seen(tmp_path):
    (tmp_path / "dataset").mkdir()
    contract = tmp_path / "dataset" / "contract.yaml"
    contract.write_text("feeds: {}\n")
    before = definitions._defs_files(tmp_path)
    contract.write_text("feeds: {applications: {}}\n")
    assert definitions._defs_files(tmp_path) != before

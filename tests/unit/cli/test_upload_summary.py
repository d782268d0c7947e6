"""What `omics-toolkit upload R1 R2` says for each state of an identical pair's execution."""

from __future__ import annotations

from omics_toolkit.cli.commands import _pair_summary

URIS = {"r1": "s3://in/fastq/S_R1.fastq.gz", "r2": "s3://in/fastq/S_R2.fastq.gz"}


def _identical(status: str, stop: str | None) -> str:
    run = {"name": "S-0123456789ab-r1", "status": status, "start_date": "2026-12-01T10:00:00+00:00"}
    result = {
        "sample": "S",
        **URIS,
        "execution_name": "S-0123456789ab",
        "uploaded": [],
        "unchanged": list(URIS.values()),
        "status": status,
        "execution": {**run, "stop_date": stop},
    }
    return " ".join(_pair_summary(result).split())


def test_running_says_since_when_and_how_to_follow() -> None:
    text = _identical("RUNNING", None)
    assert text == (
        "S: identical to s3://in/fastq/S_R1.fastq.gz and s3://in/fastq/S_R2.fastq.gz (RUNNING "
        "since 2026-12-01T10:00:00+00:00; execution S-0123456789ab-r1); nothing uploaded "
        "follow with `omics-toolkit runs`"
    )


def test_aborted_points_to_runs_show_and_retry_of_the_newest_execution() -> None:
    text = _identical("ABORTED", "2026-12-01T10:05:00+00:00")
    assert "(ABORTED at 2026-12-01T10:05:00+00:00; execution S-0123456789ab-r1)" in text
    assert "`omics-toolkit runs show S-0123456789ab-r1`" in text
    assert "`omics-toolkit runs retry S-0123456789ab-r1`" in text


def test_new_content_names_the_execution_it_starts() -> None:
    result = {
        "sample": "S",
        **URIS,
        "execution_name": "S-0123456789ab",
        "uploaded": [URIS["r2"]],
        "unchanged": [URIS["r1"]],
        "status": "will start",
        "execution": None,
    }
    assert _pair_summary(result).splitlines() == [
        f"uploaded {URIS['r2']}",
        f"unchanged {URIS['r1']} (identical; not uploaded again)",
        "execution: S-0123456789ab (follow with `omics-toolkit runs`)",
    ]

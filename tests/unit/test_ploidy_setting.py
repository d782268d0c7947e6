"""The ``ploidy`` setting (config file, environment, range) and the report's ploidy line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from omics_toolkit.athena import bind_named, load_query
from omics_toolkit.config import resolve_settings
from omics_toolkit.errors import ConfigError
from omics_toolkit.report import Ploidy, collect, render_html


def test_ploidy_from_file_env_and_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OMICS_TOOLKIT_PLOIDY", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text("ploidy = 1\n")
    settings, sources = resolve_settings(cfg)
    assert (settings.ploidy, sources["ploidy"]) == (1, f"file {cfg}")
    monkeypatch.setenv("OMICS_TOOLKIT_PLOIDY", "4")
    settings, sources = resolve_settings(cfg)
    assert (settings.ploidy, sources["ploidy"]) == (4, "env OMICS_TOOLKIT_PLOIDY")
    monkeypatch.delenv("OMICS_TOOLKIT_PLOIDY")
    assert resolve_settings(tmp_path / "c.toml", ploidy=2)[0].ploidy == 2
    cfg.write_text("")
    assert resolve_settings(cfg)[0].ploidy == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "ploidy must be between 1 and 8, not 0 (from env OMICS_TOOLKIT_PLOIDY)"),
        ("9", "ploidy must be between 1 and 8, not 9 (from env OMICS_TOOLKIT_PLOIDY)"),
        (
            "haploid",
            "setting ploidy='haploid' (from env OMICS_TOOLKIT_PLOIDY) is not a whole number",
        ),
    ],
)
def test_ploidy_out_of_range_or_not_a_number(tmp_path, monkeypatch, value, message) -> None:
    monkeypatch.chdir(tmp_path)  # no omics-toolkit.toml
    monkeypatch.setenv("OMICS_TOOLKIT_PLOIDY", value)
    with pytest.raises(ConfigError) as caught:
        resolve_settings()
    assert str(caught.value) == message


def _runner(calls: list[str]) -> Any:
    frames = {
        "sample_summary": pd.DataFrame(
            {
                "sampleid": ["HAP1"],
                "variants": [17],
                "snvs": [17],
                "indels": [0],
                "het": [0],
                "hom_alt": [17],
                "het_hom_ratio": [None],
                "ti_tv": [None],
                "mean_qual": [200.0],
                "mean_depth": [40.0],
            }
        ),
        "report/contig_counts": pd.DataFrame({"contigname": ["q"], "variants": [17]}),
        "report/qual_histogram": pd.DataFrame(
            {"bin": [0], "bin_start": [190.0], "bin_end": [210.0], "variants": [17]}
        ),
        "report/depth_histogram": pd.DataFrame(
            {"bin": [0], "bin_start": [30], "bin_end": [50], "variants": [17]}
        ),
        "report/clinvar_significance": pd.DataFrame({"clnsig": [], "variants": []}),
        "report/ploidy": pd.DataFrame({"ploidy": [1, 2], "calls": [16, 1]}),
    }

    def run(name: str, params: dict[str, Any]) -> pd.DataFrame:
        qf = load_query(name)
        bind_named(qf.sql, params, qf.params)  # every parameter declared and used
        calls.append(name)
        return frames[name]

    return run


def test_report_shows_the_ploidy_asked_for_and_the_genotypes_ploidy() -> None:
    calls: list[str] = []
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    data = collect("HAP1", _runner(calls), ploidy=Ploidy(1, "HealthOmics run 1234567"), now=now)
    assert calls[-1] == "report/ploidy"
    assert data.ploidy == Ploidy(1, "HealthOmics run 1234567", ((1, 16), (2, 1)))
    assert (
        "<dt>Ploidy</dt><dd>1 (haploid), from HealthOmics run 1234567; genotypes: 16 with 1 "
        "allele, 1 with 2 alleles</dd>"
    ) in render_html(data)


def test_report_without_ploidy_runs_no_ploidy_query() -> None:
    calls: list[str] = []
    data = collect("HAP1", _runner(calls))
    assert "report/ploidy" not in calls and data.ploidy is None
    assert "<dt>Ploidy</dt>" not in render_html(data)


def test_ploidy_labels() -> None:
    assert [Ploidy(n, "").label for n in (1, 2, 4, 5)] == [
        "1 (haploid)",
        "2 (diploid)",
        "4 (tetraploid)",
        "5 (5-ploid)",
    ]
    assert Ploidy(None, "").label == "not known"

from pathlib import Path

import pytest

from omics_toolkit.config import load_settings
from omics_toolkit.errors import ConfigError


def test_precedence_flag_env_file_default(tmp_path, monkeypatch):
    cfg = tmp_path / "omics-toolkit.toml"
    cfg.write_text(
        'deployment = "from-file"\npoll_interval_seconds = 30\n[run_parameters]\nbwa_image = "x"\n'
    )
    monkeypatch.setenv("OMICS_TOOLKIT_POLL_INTERVAL_SECONDS", "7")
    s = load_settings(cfg)
    assert (s.deployment, s.poll_interval_seconds, s.run_parameters) == (
        "from-file",
        7,
        {"bwa_image": "x"},
    )
    assert load_settings(cfg, deployment="flag").deployment == "flag"
    monkeypatch.delenv("OMICS_TOOLKIT_POLL_INTERVAL_SECONDS")
    assert load_settings(cfg).poll_interval_seconds == 30


def test_bad_values_say_what_to_fix(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('deploymnet = "typo"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(cfg)
    cfg.write_text('poll_interval_seconds = "soon"\n')
    with pytest.raises(ConfigError, match="poll_interval_seconds"):
        load_settings(cfg)
    cfg.write_text("run_parameters = 3\n")
    with pytest.raises(ConfigError, match="table of strings"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(Path(tmp_path / "missing.toml"))


def test_run_options_from_file_and_environment(tmp_path, monkeypatch):
    conf = tmp_path / "omics-toolkit.toml"
    conf.write_text(
        'storage_type = "STATIC"\nstorage_capacity_gib = 2400\nrun_group_max_cpus = 96\n'
        'cache_behavior = "CACHE_ALWAYS"\nknown_sites = ["a.vcf.gz", "s3://b/c.vcf.gz"]\n'
        '[run_tags]\nproject = "p1"\n'
    )
    monkeypatch.setenv("OMICS_TOOLKIT_LOG_LEVEL", "ERROR")
    s = load_settings(conf)
    assert (s.storage_type, s.storage_capacity_gib) == ("STATIC", 2400)
    assert s.run_group_limits == {"maxCpus": 96}
    assert s.cache_behavior == "CACHE_ALWAYS" and s.log_level == "ERROR"
    assert s.known_sites == ("a.vcf.gz", "s3://b/c.vcf.gz")
    assert s.run_tags == {"project": "p1"}
    monkeypatch.setenv("OMICS_TOOLKIT_KNOWN_SITES", "x.vcf.gz, y.vcf.gz")
    assert load_settings(conf).known_sites == ("x.vcf.gz", "y.vcf.gz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("storage_capacity_gib = 2400\n", "applies to STATIC run storage only"),
        ('cache_behavior = "ALWAYS"\n', "cache_behavior must be one of off, CACHE_ON_FAILURE"),
        ("run_group_max_runs = 0\n", "run_group_max_runs must be between 1 and 100000"),
        ('log_level = "DEBUG"\n', "log_level must be one of ALL, ERROR, FATAL, OFF"),
        ("known_sites = 3\n", "known_sites must be a list of strings"),
    ],
)
def test_bad_run_options_say_what_to_fix(tmp_path, text, message):
    conf = tmp_path / "omics-toolkit.toml"
    conf.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(conf)


def test_deployment_name_with_a_reserved_bucket_prefix_fails_at_config_time(tmp_path):
    cfg = tmp_path / "omics-toolkit.toml"
    cfg.write_text('deployment = "xn--lab"\n')
    with pytest.raises(ConfigError, match=r"'xn--lab' \(from .*\) must not start with 'xn--'"):
        load_settings(cfg)

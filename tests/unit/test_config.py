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

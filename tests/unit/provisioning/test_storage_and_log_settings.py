"""Bucket lifecycle merging, the CloudWatch Logs key policy statement, and the logging settings."""

import pytest
from support.iam_lint import expand_action

from omics_toolkit.config import load_settings
from omics_toolkit.errors import ConfigError
from omics_toolkit.provisioning.iam import logs_key_policy_statement
from omics_toolkit.provisioning.storage import merge_lifecycle_rules

OURS = [
    {"ID": "processed-to-glacier-ir", "Status": "Enabled", "Transitions": [{"Days": 30}]},
    {"ID": "expire-noncurrent-versions", "Status": "Enabled", "NoncurrentVersionExpiration": {}},
]


def test_merge_keeps_a_users_rules_in_place_and_sets_ours():
    mine = {"ID": "mine", "Status": "Enabled", "Expiration": {"Days": 3}}
    stale = {"ID": "processed-to-glacier-ir", "Status": "Disabled"}
    merged = merge_lifecycle_rules([stale, mine], OURS)
    assert merged == [OURS[0], mine, OURS[1]]
    # idempotent: merging again changes nothing
    assert merge_lifecycle_rules(merged, OURS) == merged
    assert merge_lifecycle_rules([], OURS) == OURS


def test_logs_key_policy_statement_names_the_log_group_and_real_actions():
    statement = logs_key_policy_statement(
        "aws", "eu-west-1", "123456789012", "/aws/vendedlogs/states/dev-germline"
    )
    assert statement["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vendedlogs/states/dev-germline"
            )
        }
    }
    for action in statement["Action"]:
        assert expand_action(action), action


def test_logging_settings_default_off_and_are_checked(tmp_path, monkeypatch):
    cfg = tmp_path / "omics-toolkit.toml"
    cfg.write_text('deployment = "dev"\n')
    s = load_settings(cfg)
    assert (s.log_execution_data, s.log_retention_days, s.noncurrent_version_days) == (
        False,
        90,
        30,
    )
    cfg.write_text('deployment = "dev"\nlog_execution_data = true\nlog_retention_days = 365\n')
    s = load_settings(cfg)
    assert (s.log_execution_data, s.log_retention_days) == (True, 365)
    monkeypatch.setenv("OMICS_TOOLKIT_LOG_EXECUTION_DATA", "false")
    assert load_settings(cfg).log_execution_data is False
    monkeypatch.setenv("OMICS_TOOLKIT_LOG_EXECUTION_DATA", "maybe")
    with pytest.raises(ConfigError, match="must be true or false"):
        load_settings(cfg)
    monkeypatch.delenv("OMICS_TOOLKIT_LOG_EXECUTION_DATA")
    cfg.write_text('deployment = "dev"\nlog_retention_days = 100\n')
    with pytest.raises(ConfigError, match="log_retention_days must be one of 1, 3, 5"):
        load_settings(cfg)

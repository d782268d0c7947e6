"""Helpers shared by tests (not collected): recorded provisioning runs, the IAM policy lint."""

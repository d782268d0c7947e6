"""``omics-toolkit`` as a user runs it: a subprocess of the console entry point (the error
boundary, exit status and stdout/stderr apart), with the local stack's fast polls."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(deployment: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m omics_toolkit --deployment DEPLOYMENT ARGS`` with 1-second polls (2 at most);
    ``env`` adds or overrides environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "--deployment", deployment, *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OMICS_TOOLKIT_POLL_INTERVAL_SECONDS": "1",
            "OMICS_TOOLKIT_MAX_POLL_INTERVAL_SECONDS": "2",
            **env,
        },
        timeout=600,
    )

"""Fixed names of the HealthOmics service (source: AWS HealthOmics User Guide)."""

from __future__ import annotations

#: Service principal of AWS HealthOmics (trust policies, resource policies, PassedToService).
HEALTHOMICS_PRINCIPAL = "omics.amazonaws.com"
#: CloudWatch Logs group HealthOmics writes run, engine, task and manifest streams to.
HEALTHOMICS_LOG_GROUP = "/aws/omics/WorkflowLog"

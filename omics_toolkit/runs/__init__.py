"""Run insight: what a HealthOmics run did, what it cost, and how to size it.

- :mod:`~omics_toolkit.runs.instances`: the HealthOmics instance types and which one a task gets.
- :mod:`~omics_toolkit.runs.pricing`: the shipped, dated price table and the cost arithmetic.
- :mod:`~omics_toolkit.runs.manifest`: the run manifest (CloudWatch Logs) as typed records.
- :mod:`~omics_toolkit.runs.insight`: one run resolved from a run id, execution or sample; its
  tasks, logs, cost and right-sizing advice.
- :mod:`~omics_toolkit.runs.timeline`: a Gantt chart of the tasks (matplotlib, Agg).

Everything here receives boto3 clients (``omics``, ``logs``, ``stepfunctions``); nothing imports
boto3. The CLI (``omics-toolkit runs ...``) only parses options and renders the results.
"""

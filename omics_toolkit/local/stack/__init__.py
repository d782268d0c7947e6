"""The embedded local stack's processes: the stack process and the clients that drive it.

- :mod:`.server`: the stack process (``python -m omics_toolkit.local.stack.server``): patched moto
  server + HealthOmics emulator, snapshot restored at start and saved at stop.
- :mod:`.lifecycle`: start, inspect and stop that process from another one (``stack.json``).
- :mod:`.snapshot`: save and restore moto's backends across stop/start.
- :mod:`.lambda_runtime`: the child process that runs one Lambda invocation (standard library only).
"""

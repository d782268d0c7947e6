"""``python -m healthomics_emulator.miniwdl_run ARGS``: miniwdl's CLI with the host backend registered.

The run executor starts runs with this instead of ``python -m WDL`` so that the container backend
``omics_toolkit_host`` (:class:`healthomics_emulator.wdl_host.HostContainer`) is found whatever
entry points the installed distribution's metadata lists.
"""

from __future__ import annotations

from WDL import CLI
from WDL.runtime import task_container

from healthomics_emulator.run_model import CONTAINER_BACKEND
from healthomics_emulator.wdl_host import HostContainer


def main() -> None:
    """Register the host backend, then run miniwdl's ``main`` on ``sys.argv``.

    miniwdl keeps its backends in ``task_container._backends`` (private) and loads the entry-point
    plugins only while that dict is empty; registering ours first means the other installed
    backends (docker, podman...) are not loaded, which runs of the emulator never use.
    """
    task_container._backends[CONTAINER_BACKEND] = HostContainer
    CLI.main()


if __name__ == "__main__":
    main()

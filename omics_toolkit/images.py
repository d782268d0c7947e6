"""Container image references, normalised as Docker does (used by provisioning and the emulator).

``[registry/]path[:tag][@digest]``: no registry means Docker Hub (``registry-1.docker.io``), and
one-segment Docker Hub paths get ``library/``. Private ECR hosts are
``<account>.dkr.ecr.<region>.amazonaws.com`` (``.com.cn`` in China).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)


@dataclass(frozen=True)
class ImageRef:
    """A container image reference.

    Attributes:
        registry: registry host (``registry-1.docker.io`` for Docker Hub references).
        repository: path in the registry (``library/<name>`` for Docker Hub official images).
        tag: tag, or ``None``.
        digest: ``sha256:...`` digest, or ``None``.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def uri(self) -> str:
        ref = f"{self.registry}/{self.repository}"
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref

    def ecr(self) -> tuple[str, str] | None:
        """``(account, region)`` when this is a private ECR image, else ``None``."""
        m = ECR_HOST.match(self.registry)
        return (m["account"], m["region"]) if m else None


def parse_image(image: str) -> ImageRef:
    """Split ``[registry/]path[:tag][@digest]``, Docker-normalised.

    Raises:
        ValueError: empty reference or one containing whitespace.
    """
    text = image.strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"invalid container image reference {image!r}")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, text
    if registry in ("docker.io", "index.docker.io"):
        registry = DOCKER_HUB
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path, tag, digest)

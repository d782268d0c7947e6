"""Container image references as the emulator reads them (Docker's normalisation).

``[registry/]path[:tag][@digest]``: no registry means Docker Hub (``registry-1.docker.io``), and
one-segment Docker Hub paths get ``library/``; ``docker.io`` and ``index.docker.io`` are Docker
Hub. Private ECR hosts are ``<account>.dkr.ecr.<region>.amazonaws.com`` (``.com.cn`` in China).
Source: the Docker reference grammar (``distribution/reference``) and the HealthOmics guide's
"Container images" page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})


@dataclass(frozen=True)
class Image:
    """A parsed image reference: ``registry`` host, ``repository`` path, ``tag``/``digest``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def uri(self) -> str:
        """``registry/repository[:tag][@digest]``."""
        return (
            f"{self.registry}/{self.repository}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )

    def ecr(self) -> tuple[str, str] | None:
        """``(account, region)`` of a private ECR image, else ``None``."""
        m = ECR_HOST.match(self.registry)
        return (m["account"], m["region"]) if m else None


def parse_image(image: str) -> Image:
    """Split ``[registry/]path[:tag][@digest]``, Docker-normalised.

    Raises:
        ValueError: empty reference or one containing whitespace.
    """
    text = image.strip()
    if not text or re.search(r"\s", text):
        raise ValueError(f"invalid container image reference {image!r}")
    text, at, digest = text.partition("@")
    head, slash, tail = text.partition("/")
    is_host = slash and (head == "localhost" or "." in head or ":" in head)
    registry, path = (head, tail) if is_host else (DOCKER_HUB, text)
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    name, colon, last = path.rpartition(":")
    tag = None
    if colon and "/" not in last:
        path, tag = name, last
    if registry == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    return Image(registry, path, tag, digest if at else None)

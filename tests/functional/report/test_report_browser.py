"""The report page really renders in headless Chromium: images decoded, no errors, not blank.

Uses the ``playwright`` package driving the system Chromium (Debian ``chromium``, installed by
``scripts/test.sh``) when it is importable, else Chromium's own ``--dump-dom``/``--screenshot``.
Skipped only when no Chromium is installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()),
    None,
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADINGS = [
    "Summary",
    "Variants per contig",
    "QUAL distribution",
    "Depth distribution",
    "Genotype classes and Ti/Tv",
    "ClinVar clinical significance",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium (/usr/bin/chromium): apt-get install chromium"
)


def _check_screenshot(png: Path, min_height: int) -> None:
    """The screenshot is a real page: tall enough, many colours, mostly but not only white."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        assert width >= 800 and height >= min_height, rgb.size
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 500, f"{len(colours)} colours: blank page?"
        white = sum(n for n, c in colours if c == (255, 255, 255))
        assert 0.3 < white / (width * height) < 0.98


def test_report_renders_in_headless_chromium(
    catalog: Any, make_report: Callable[[str, str], Path], tmp_path: Path
) -> None:
    page_path = make_report(catalog.deployment, "ADM1059A1")
    screenshot = tmp_path / "report.png"
    if importlib.util.find_spec("playwright") is not None:
        _with_playwright(page_path, screenshot)
    else:
        _with_chromium_cli(page_path, screenshot, tmp_path)
    _check_screenshot(screenshot, min_height=2500)


def _with_playwright(page_path: Path, screenshot: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img",
                "els => els.map(e => ({complete: e.complete, width: e.naturalWidth,"
                " height: e.naturalHeight, alt: e.alt, shown: e.getBoundingClientRect().width}))",
            )
            headings = page.locator("h2").all_inner_texts()
            title = page.title()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert headings == HEADINGS
    assert title == "Variant report: ADM1059A1"
    assert len(images) == 5
    for image in images:
        assert image["complete"] and image["width"] > 300 and image["height"] > 100, image
        assert image["shown"] > 300 and len(image["alt"]) > 40, image


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def _with_chromium_cli(page_path: Path, screenshot: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    base = [CHROMIUM, "--headless", *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*base, "--dump-dom", page_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert parsed.h2 == HEADINGS
    assert len(parsed.imgs) == 5
    assert all((i.get("src") or "").startswith("data:image/png;base64,") for i in parsed.imgs)
    subprocess.run(
        [*base, f"--screenshot={screenshot}", "--window-size=1200,6000", page_path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )

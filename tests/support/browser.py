"""Pages in a real browser: Debian's Chromium, headless, driven by Playwright for Python, and
unable to reach anything but the server under test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class OfflinePage:
    page: Page
    # Every request the page tried to send anywhere but the server under test.
    blocked: list[str] = field(default_factory=list)


@contextmanager
def offline_page(base_url: str, width: int = 1280, height: int = 900) -> Iterator[OfflinePage]:
    """A page that may load from `base_url` (a loopback server) and nothing else: other
    hosts do not resolve, and any request to them is aborted and recorded."""
    assert CHROMIUM.exists(), "Debian's chromium is installed by `make test` (apt)"
    origin = urlsplit(base_url)
    host = origin.hostname or "127.0.0.1"
    flags = [*FLAGS, f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            offline = OfflinePage(context.new_page())

            def only_the_server(route: Route) -> None:
                url = route.request.url
                parts = urlsplit(url)
                if (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc) or (
                    parts.scheme in ("data", "blob")
                ):
                    route.continue_()
                else:
                    offline.blocked.append(url)
                    route.abort()

            context.route("**/*", only_the_server)
            yield offline
        finally:
            browser.close()

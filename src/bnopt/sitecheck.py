"""Open every built page in headless Chromium; fail on anything a reader offline would see broken.

A page fails on a broken image, an error output, a link to a missing page, a console error (a
missing favicon or a failing script included), a request to any host but the local server (the
site must work offline), TeX left untypeset in its text, or a MathJax error.

    python -m bnopt.sitecheck _build/html

Needs Debian's `chromium` and `chromium-driver` (or CHROMIUM=/path, CHROMEDRIVER=/path; a path that
is not an executable file is an error naming the variable) and the `selenium` package.
The pages are served on 127.0.0.1 by a local HTTP server for the duration of the check.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

_BROKEN_IMAGES = ("return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                  ".map(i => i.getAttribute('src'));")
_ERROR_OUTPUTS = ("return [...document.querySelectorAll('div.output.traceback, div.output.error')]"
                  ".map(e => e.innerText.slice(0, 300));")
_LINKS = "return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));"
_RESOURCES = "return performance.getEntriesByType('resource').map(r => r.name);"
# MathJax typesets after load: wait for it (at most the script timeout), then read the text it left
_TYPESET = ("const done = arguments[arguments.length - 1];"
            "const mj = window.MathJax;"
            "if (!mj || !mj.startup || !mj.startup.promise) { done(false); return; }"
            "mj.startup.promise.then(() => done(true), () => done(true));")
_TEXT = "return document.querySelector('main, article, body').innerText;"
_MATH_ERRORS = "return [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent);"
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\frac", "\\mathrm", "\\nabla", "\\ell")
_SKIP = {"genindex.html", "search.html"}
CHROMIUM_ENV, CHROMEDRIVER_ENV = "CHROMIUM", "CHROMEDRIVER"
_DEFAULT_BINARIES = {CHROMIUM_ENV: "/usr/bin/chromium", CHROMEDRIVER_ENV: "/usr/bin/chromedriver"}


class BrowserNotFoundError(FileNotFoundError):
    """Raised when Chromium or chromedriver is not where $CHROMIUM / $CHROMEDRIVER (or the default) says."""


def browser_binary(env: str) -> str:
    """The executable named by $`env` (CHROMIUM or CHROMEDRIVER), else Debian's path; raises if absent."""
    given = os.environ.get(env, "").strip()
    path = given or _DEFAULT_BINARIES[env]
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        source = f"{env}={given!r}" if given else f"{path} (the default; ${env} is unset)"
        raise BrowserNotFoundError(
            f"{source} is not an executable file; install Debian's chromium and chromium-driver "
            f"(apt-get install chromium chromium-driver) or set {env} to the path of the executable")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that does not log every request."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Stay quiet."""


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `root` on a free loopback port; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _driver():  # type: ignore[no-untyped-def]
    """A headless Chromium driven by Debian's chromedriver, with no background networking."""
    chromium, chromedriver = browser_binary(CHROMIUM_ENV), browser_binary(CHROMEDRIVER_ENV)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1280,2000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, read per page
    service = Service(executable_path=chromedriver)
    return webdriver.Chrome(service=service, options=opts)


def local_link_target(page: Path, href: str, root: Path) -> Path | None:
    """The file a same-site link points to, or None for external links and anchors."""
    parsed = urlparse(href)
    if parsed.scheme or parsed.netloc or href.startswith(("#", "mailto:", "javascript:")):
        return None
    path = unquote(urldefrag(parsed.path)[0])
    if not path:
        return None
    target = (page.parent / path).resolve()
    return target / "index.html" if target.is_dir() else target


def raw_tex(text: str) -> list[str]:
    """The TeX fragments (from RAW_TEX) left in a page's rendered text, with a little context."""
    found = []
    for mark in RAW_TEX:
        i = text.find(mark)
        if i >= 0:
            found.append(text[max(0, i - 20):i + 30].replace("\n", " "))
    return list(dict.fromkeys(found))


def foreign_requests(urls: list[str], base: str) -> list[str]:
    """The requested URLs that are not on the local server at `base` (data: and blob: URLs are local)."""
    host = urlparse(base).netloc
    return [u for u in urls if urlparse(u).scheme not in ("data", "blob") and urlparse(u).netloc != host]


def page_problems(driver: object, page: Path, root: Path, base: str) -> list[str]:
    """Every problem of one loaded page (see the module docstring)."""
    run = driver.execute_script  # type: ignore[attr-defined]
    out = [f"broken image {src}" for src in run(_BROKEN_IMAGES)]
    out += [f"error output: {text!r}" for text in run(_ERROR_OUTPUTS)]
    for href in run(_LINKS):
        target = local_link_target(page, href, root)
        if target is not None and not target.exists():
            out.append(f"link to missing page {href}")
    driver.execute_async_script(_TYPESET)  # type: ignore[attr-defined]
    out += [f"MathJax error: {e!r}" for e in run(_MATH_ERRORS)]
    out += [f"raw TeX in the text: ...{t}..." for t in raw_tex(run(_TEXT) or "")]
    out += [f"request to another host: {u}" for u in foreign_requests(run(_RESOURCES), base)]
    for entry in driver.get_log("browser"):  # type: ignore[attr-defined]
        if entry.get("level") == "SEVERE":
            out.append(f"console error: {entry.get('message', '')[:300]}")
    return [f"{page.name}: {p}" for p in out]


def check_site(root: Path) -> list[str]:
    """Problems found on the built site (empty when every page is fine)."""
    pages = sorted(p for p in root.glob("*.html") if p.name not in _SKIP)
    if not pages:
        return [f"no HTML pages in {root}: build the book first (make book)"]
    problems: list[str] = []
    driver = _driver()
    server, base = _serve(root)
    try:
        driver.set_script_timeout(30)
        for page in pages:
            driver.get(base + page.relative_to(root).as_posix())
            problems += page_problems(driver, page, root, base)
            print(f"[site] {page.name}: checked", flush=True)
    finally:
        driver.quit()
        server.shutdown()
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: check the site folder given (default `_build/html`)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "_build/html").resolve()
    try:
        problems = check_site(root)
    except BrowserNotFoundError as err:
        print(f"[site] {err}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"[site] PROBLEM {p}", file=sys.stderr)
    print(f"[site] {len(problems)} problem(s) on the site in {root}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

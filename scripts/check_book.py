"""Open every page of the built book in headless Chromium, offline, as a reader would.

Usage::

    python scripts/check_book.py [--build _build/html] [--screenshots _build/screenshots]

Each HTML page of the build is loaded from disk (``file://``) in a browser
that cannot reach any network. The check fails (exit status 1) when a page

- leaves math untypeset: MathJax did not load, a formula still reads as raw
  TeX, or MathJax reports a TeX error;
- has an image that does not load;
- links to a page, file or anchor of the book that does not exist;
- shows a Python traceback, a ``...Warning:`` line or stderr output;
- asks for anything over the network (every script, stylesheet, font and
  image must be part of the build);
- throws a JavaScript error or logs a failed load;
- is wider than the window (a table or figure running past the page edge).

It prints one line per page, writes a full-page screenshot of each page and
``report.json`` to the screenshot folder, and exits 2 when there is nothing
to check (no build) or no Chromium.

Chromium is driven over the DevTools protocol through a pipe
(``--remote-debugging-pipe``) with the standard library only. No port is
opened, nothing is downloaded, and there is no driver whose version must match
the browser's (Playwright pins its own Chromium build and cannot download it
here; Debian's ``chromium`` package is all this needs).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

ROOT = Path(__file__).resolve().parents[1]

#: Flags for a quiet, sandbox-free (root in CI) browser without network: the
#: proxy points at a closed local port and every host name fails to resolve.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)

#: Folders of the build that hold assets, not pages.
ASSET_FOLDERS = {"_static", "_sources", "_images", "_downloads"}

#: URL schemes a page may load from: the build itself and inline data.
LOCAL_SCHEMES = {"file", "data", "blob", "about"}

#: The longest page part photographed (px); a chapter is rarely longer.
MAX_SCREENSHOT_HEIGHT = 16000

#: Browser errors that are known, harmless and not ours, with the reason.
KNOWN_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared": (
        "sphinx-thebe 0.3.1 adds its configuration script twice under Sphinx 7.4; "
        "the book has no live-code button, so nothing depends on it"
    ),
}

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*Warning: ")

# Runs inside each page: waits for MathJax, then reports what a reader would
# see. Returns plain JSON.
PAGE_PROBE = r"""
(async () => {
  const limit = (ms) => new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
  const report = {};
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    const outcome = await Promise.race([mj.startup.promise.then(() => "done", (e) => "error: " + e), limit(%(timeout_ms)d)]);
    if (outcome !== "done") report.mathjax_problem = String(outcome);
  }
  report.mathjax_loaded = !!(window.MathJax && window.MathJax.version);
  const math = [...document.querySelectorAll(".math")];
  report.math_count = math.length;
  report.untypeset = math.filter((n) => !n.querySelector("mjx-container")).map((n) => n.textContent.trim().slice(0, 80));
  report.math_errors = [...document.querySelectorAll("mjx-merror, [data-mjx-error]")].map(
    (n) => n.getAttribute("data-mjx-error") || n.textContent.slice(0, 80));

  // Text a reader sees outside code, formulas and scripts.
  const skip = "pre, code, script, style, textarea, kbd, samp, mjx-container, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const prose = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && !parent.closest(skip) && parent.getClientRects().length) prose.push(node.textContent);
  }
  const text = prose.join(" ");
  const raw = /\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\s][^$\n]{0,60}\$|\\(frac|mathrm|mathcal|mathbb|alpha|sigma|Delta|delta|chi|sum|mid|left|right|operatorname)\b/g;
  report.raw_tex = [...new Set((text.match(raw) || []))].slice(0, 10).map((m) => {
    const at = text.indexOf(m);
    return text.slice(Math.max(0, at - 30), at + m.length + 30).replace(/\s+/g, " ");
  });
  report.text = document.body.innerText;
  report.stderr = [...document.querySelectorAll(".output.stderr, .output.traceback, .output.error")].map(
    (n) => n.textContent.trim().slice(0, 120));

  report.images = await Promise.all([...document.images].map((img) => new Promise((resolve) => {
    const probe = new Image();
    const src = img.currentSrc || img.src;
    probe.onload = () => resolve({src, ok: probe.naturalWidth > 0, alt: img.alt});
    probe.onerror = () => resolve({src, ok: false, alt: img.alt});
    probe.src = src;
  })));
  report.links = [...document.querySelectorAll("a[href]")].map((a) => a.href);
  report.ids = [...document.querySelectorAll("[id]")].map((e) => e.id).concat(
    [...document.querySelectorAll("a[name]")].map((a) => a.name));

  // Anything wider than its column that does not scroll in a box of its own.
  report.page_width = document.documentElement.scrollWidth;
  report.window_width = window.innerWidth;
  report.window_height = window.innerHeight;
  const column = document.querySelector("article") || document.body;
  const right = column.getBoundingClientRect().right;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== column; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + ": " + (el.textContent || el.getAttribute("src") || "").trim().slice(0, 60);
  const wide = [...column.querySelectorAll("table, img, figure, pre")]
    .filter((el) => el.getClientRects().length && el.getBoundingClientRect().width > column.getBoundingClientRect().width + 2);
  report.overflowing = [...column.querySelectorAll("table, img, figure, pre")]
    .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > right + 2 && !scrolls(el))
    .map(describe);
  report.scrolled = wide.filter(scrolls).map((el) => describe(el) + " (" + Math.round(el.getBoundingClientRect().width) + " px)");
  report.column_width = Math.round(column.getBoundingClientRect().width);
  return report;
})()
"""


class BrowserError(RuntimeError):
    """Chromium failed, hung or answered with a protocol error."""


class Chromium:
    """A headless Chromium spoken to over the DevTools protocol on a pipe.

    Messages are JSON objects separated by NUL bytes; Chromium reads them on
    its file descriptor 3 and writes on 4.
    """

    def __init__(self, executable: str, width: int, height: int):
        self._profile = tempfile.TemporaryDirectory(prefix="check-book-profile-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def give_fds_3_and_4():
            # Move both ends out of the way first: either may already be 3 or 4.
            read_end = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(3, 4), preexec_fn=give_fds_3_and_4,
        )  # fmt: skip
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, f"{method} got no answer within {timeout:g} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float) -> dict:
        """Wait for an event (kept events first)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            message = self._read(deadline, f"no {method} within {timeout:g} s")
            if "method" in message:
                self.events.append(message)

    def _read(self, deadline: float, why: str) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(why)
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise BrowserError(f"Chromium closed the pipe (exit {self.process.poll()}): {stderr}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        self.process.stderr.close()
        self._profile.cleanup()


@dataclass
class PageReport:
    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    math: int = 0
    images: int = 0
    links: int = 0
    seconds: float = 0.0
    screenshot: str | None = None


def find_pages(build: Path) -> list[Path]:
    """Every HTML page of a build (not the assets)."""
    return sorted(
        p for p in build.rglob("*.html")
        if not ASSET_FOLDERS.intersection(p.relative_to(build).parts[:-1])
    )  # fmt: skip


_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.IGNORECASE)
_ID = re.compile(r'\b(?:id|name)="([^"]+)"')


def _redirect_target(page: Path) -> str | None:
    head = page.read_text(errors="replace")[:2000]
    found = _REFRESH.search(head)
    return found.group(1) if found else None


def find_chromium(preferred: str | None) -> str | None:
    for candidate in (preferred, os.environ.get("CHROMIUM"), "chromium", "chromium-browser",
                      "google-chrome"):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return shutil.which(candidate) or candidate
    return None


def check_page(browser: Chromium, session: str, page: Path, shots: Path, build: Path,
               timeout: float) -> tuple[PageReport, dict]:
    report = PageReport(str(page.relative_to(build)))
    start = time.monotonic()
    browser.events.clear()
    browser.send("Page.navigate", {"url": page.as_uri()}, session)
    browser.wait_for("Page.loadEventFired", session, timeout)
    probe = browser.send(
        "Runtime.evaluate",
        {"expression": PAGE_PROBE % {"timeout_ms": int(timeout * 1000)},
         "awaitPromise": True, "returnByValue": True},
        session, timeout=timeout + 5,
    )  # fmt: skip
    if "exceptionDetails" in probe:
        report.problems.append(f"the page probe failed: {probe['exceptionDetails'].get('text')}")
        return report, {}
    seen = probe["result"]["value"]

    # What the browser tried to load, and what failed, while the page was open.
    requested = {}
    for event in browser.events:
        if event.get("sessionId") != session:
            continue
        params = event.get("params", {})
        method = event.get("method")
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            requested[params["requestId"]] = url
            if urlsplit(url).scheme not in LOCAL_SCHEMES:
                report.problems.append(f"asks the network for {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = requested.get(params["requestId"], "?")
            if urlsplit(url).scheme in LOCAL_SCHEMES:
                report.problems.append(f"failed to load {url} ({params.get('errorText')})")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            known = [why for error, why in KNOWN_ERRORS.items() if error in str(text)]
            if known:
                report.known.append(known[0])
            else:
                report.problems.append(f"JavaScript error: {str(text)[:200]}")
        elif (method == "Log.entryAdded" and params["entry"]["level"] == "error"
              # A failed load is reported above, with its address.
              and not params["entry"]["text"].startswith("Failed to load resource")):
            report.problems.append(f"browser error: {params['entry']['text'][:200]}")

    report.math = seen["math_count"]
    if seen["math_count"] and not seen["mathjax_loaded"]:
        report.problems.append(f"MathJax did not load: {seen['math_count']} formulas left as TeX")
    if seen.get("mathjax_problem"):
        report.problems.append(f"MathJax did not finish: {seen['mathjax_problem']}")
    for tex in seen["untypeset"][:5]:
        report.problems.append(f"untypeset math: {tex}")
    for error in seen["math_errors"][:5]:
        report.problems.append(f"TeX error: {error}")
    for context in seen["raw_tex"]:
        report.problems.append(f"raw TeX in the text: ...{context}...")
    for match in sorted(set(TRACEBACK.findall(seen["text"]))):
        report.problems.append(f"shows {match.strip()!r}")
    for output in seen["stderr"][:5]:
        report.problems.append(f"shows an error/stderr output: {output}")
    report.images = len(seen["images"])
    for image in seen["images"]:
        if not image["ok"]:
            report.problems.append(f"image does not load: {image['src']}")
        alt = image["alt"].strip()
        if not alt or "/" in alt or re.search(r"\.(png|svg|jpe?g|gif)$", alt):
            report.notes.append(f"alt text is {'missing' if not alt else 'a file name'}: {image['src'].rsplit('/', 1)[-1]}")
    if seen["page_width"] > seen["window_width"] + 1:
        report.problems.append(
            f"page is {seen['page_width']} px wide in a {seen['window_width']} px window")
    for element in seen["overflowing"][:5]:
        report.problems.append(f"runs past the text column: {element}")
    for element in seen["scrolled"][:5]:
        report.problems.append(f"wider than the {seen['column_width']} px text column (its last columns hidden "
                               f"until scrolled): {element}")
    report.links = len(seen["links"])
    report.problems = list(dict.fromkeys(report.problems))  # a failed image is seen twice

    # A window as tall as the page photographs all of it (captureBeyondViewport
    # shifted the theme's scrolling article sideways).
    metrics = browser.send("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = min(int(size["height"]), MAX_SCREENSHOT_HEIGHT)
    window = {"width": seen["window_width"], "deviceScaleFactor": 1, "mobile": False}
    browser.send("Emulation.setDeviceMetricsOverride", {**window, "height": max(height, 1)}, session)
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session, timeout=60)
    browser.send("Emulation.setDeviceMetricsOverride", {**window, "height": seen["window_height"]}, session)
    target = shots / (report.path.replace("/", "__").removesuffix(".html") + ".png")
    target.write_bytes(base64.b64decode(shot["data"]))
    report.screenshot = str(target)
    report.seconds = time.monotonic() - start
    return report, seen


def check_links(reports: dict[Path, PageReport], seen: dict[Path, dict], build: Path) -> None:
    """Every link into the build reaches an existing file, and an existing anchor in it."""
    ids: dict[Path, set[str]] = {page: set(found.get("ids", [])) for page, found in seen.items()}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            ids[path] = set(_ID.findall(path.read_text(errors="replace")))
        return ids[path]

    for page, found in seen.items():
        for link in sorted(set(found.get("links", []))):
            parts = urlsplit(link)
            if parts.scheme != "file":
                continue
            target = Path(url2pathname(unquote(parts.path)))
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                reports[page].problems.append(f"broken link: {link}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in anchors(target):
                reports[page].problems.append(f"broken anchor: {link}")


def run(build: Path, shots: Path, chromium: str, width: int, height: int, timeout: float) -> list[PageReport]:
    pages = find_pages(build)
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    reports: dict[Path, PageReport] = {}
    seen: dict[Path, dict] = {}
    browser = Chromium(chromium, width, height)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})
        session = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        for page in pages:
            redirect = _redirect_target(page)
            if redirect is not None:
                # A redirect page (index.html) is only checked for its target.
                report = PageReport(str(page.relative_to(build)))
                if not (page.parent / redirect.split("#")[0]).is_file():
                    report.problems.append(f"redirects to a missing page: {redirect}")
                reports[page] = report
                continue
            reports[page], seen[page] = check_page(browser, session, page, shots, build, timeout)
    finally:
        browser.close()
    check_links(reports, seen, build)
    return list(reports.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build" / "html", help="the built HTML book")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="where screenshots and report.json go (default: <build>/../screenshots)")
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: $CHROMIUM or chromium)")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS px")
    parser.add_argument("--height", type=int, default=900, help="window height in CSS px")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a page may take to load and typeset")
    parser.add_argument("--require-alt", action="store_true",
                        help="fail on images whose alt text is missing or a file name (else a note)")
    args = parser.parse_args(argv)
    build = args.build.resolve()
    shots = (args.screenshots or build.parent / "screenshots").resolve()
    if not find_pages(build):
        print(f"no built book in {build}: run `make html` first", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("no Chromium found: install Debian's package (apt-get install -y chromium) "
              "or pass --chromium PATH", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        reports = run(build, shots, chromium, args.width, args.height, args.timeout)
    except BrowserError as error:
        print(f"browser failure: {error}", file=sys.stderr)
        return 2
    failed = 0
    for report in reports:
        if args.require_alt:
            report.problems += report.notes
            report.notes = []
        status = "FAIL" if report.problems else "ok  "
        failed += bool(report.problems)
        print(f"{status} {report.path}  ({report.math} formulas, {report.images} images, "
              f"{report.links} links, {report.seconds:.1f} s)")
        for problem in report.problems:
            print(f"       {problem}")
        for note in report.notes:
            print(f"       note: {note}")
    known = sorted({why for report in reports for why in report.known})
    for why in known:
        pages = sum(why in report.known for report in reports)
        print(f"known and ignored on {pages} pages: {why}")
    (shots / "report.json").write_text(json.dumps([vars(r) for r in reports], indent=1) + "\n")
    print(f"{len(reports)} pages, {failed} with problems, in {time.monotonic() - start:.1f} s; "
          f"screenshots in {shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

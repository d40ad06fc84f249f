"""First paint of the web page on localhost, in headless Chromium (issue 6: under 1 s).

Usage:  .venv/bin/python bench/web_first_paint.py [--loads 10]

Starts ``voxprint serve`` on a temporary store, loads ``/`` in a fresh browser context
each time (cold cache) and reads the browser's own ``first-contentful-paint`` and
``domContentLoaded`` timings.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process = subprocess.Popen(
            [
                *(sys.executable, "-c", "from voxprint.cli.app import main; main()", "serve"),
                *("--port", str(args.port), "--db", str(Path(tmp) / "v.db")),
                *("--log-level", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{args.port}/"
        try:
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"{url}readyz", timeout=1):
                        break
                except OSError:
                    time.sleep(0.3)
            paints, loaded = [], []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                for _ in range(args.loads):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_function(
                        "performance.getEntriesByName('first-contentful-paint').length > 0"
                    )
                    paints.append(
                        page.evaluate(
                            "performance.getEntriesByName('first-contentful-paint')[0].startTime"
                        )
                    )
                    loaded.append(
                        page.evaluate(
                            "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                        )
                    )
                    context.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"first contentful paint: median {np.median(paints):.0f} ms, max {max(paints):.0f} ms; "
        f"DOMContentLoaded: median {np.median(loaded):.0f} ms ({args.loads} cold loads)"
    )


if __name__ == "__main__":
    main()

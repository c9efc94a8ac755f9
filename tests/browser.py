"""Drive a headless Debian Chromium from the tests (Selenium + the distribution's chromedriver).

Nothing is downloaded: the browser is /usr/bin/chromium (``apt-get install chromium
chromium-driver``), the driver /usr/bin/chromedriver, and the pages are files of the built book.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,1024",
)
MAX_SCREENSHOT_HEIGHT = 16000  # px; longer pages are cut off (the PNG stays a few MB at most)


def _find(env_var: str, *names: str) -> str | None:
    given = os.environ.get(env_var)
    if given:
        return given if Path(given).exists() else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chromium() -> str | None:
    return _find("GANCORE_CHROMIUM", "chromium", "chromium-browser")


def find_chromedriver() -> str | None:
    return _find("GANCORE_CHROMEDRIVER", "chromedriver")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install selenium)"
    if find_chromium() is None:
        return "no chromium executable (apt-get install chromium)"
    if find_chromedriver() is None:
        return "no chromedriver executable (apt-get install chromium-driver)"
    return None


@contextlib.contextmanager
def chromium():
    """A headless Chromium WebDriver with a fresh profile, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find_chromium()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="gancore-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service(find_chromedriver()))
        driver.set_page_load_timeout(120)
        try:
            yield driver
        finally:
            driver.quit()


def wait_until_loaded(driver, timeout: float = 60.0) -> None:
    """Wait for the document and every <img> on it to finish loading (or failing)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(img => img.complete);"
        )
    )


def broken_images(driver) -> list[str]:
    """The src (shortened) of every <img> that did not load, i.e. has no natural width."""
    return driver.execute_script(
        "return Array.from(document.images)"
        "  .filter(img => !(img.complete && img.naturalWidth > 0))"
        "  .map(img => (img.currentSrc || img.src || '(no src)').slice(0, 120));"
    )


def widgets_without_image(driver) -> list[str]:
    """Widget views with no static <img> in their own cell or a neighbouring cell.

    A stored ipywidgets output renders on the page as a widget-view script (the widget itself
    needs a live kernel or the widget JavaScript); readers of the static page need a figure
    beside it. Returns a short description of each widget that lacks one.
    """
    return driver.execute_script(
        """
        const views = document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets');
        const bad = [];
        for (const view of views) {
            const cell = view.closest('div.cell') || view.parentElement;
            const around = [cell, cell.previousElementSibling, cell.nextElementSibling];
            if (!around.some(el => el && el.querySelector('img'))) {
                const code = cell.querySelector('pre');
                bad.push('cell ' + JSON.stringify(
                    ((code || cell).textContent || '').trim().slice(0, 80)));
            }
        }
        return bad;
        """
    )


def save_full_page_screenshot(driver, path: Path) -> Path:
    """Save a PNG of the whole page (up to MAX_SCREENSHOT_HEIGHT pixels tall).

    The viewport is made as tall as the page for the capture (so that sticky sidebars and the
    layout stay as a reader sees them), then restored.
    """
    import time

    width = driver.execute_script("return window.innerWidth;")
    height = 0
    for _ in range(3):  # a taller viewport can change the layout; settle on the final height
        new = min(driver.execute_script("return document.documentElement.scrollHeight;"), MAX_SCREENSHOT_HEIGHT)
        if new == height:
            break
        height = new
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.3)
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path

"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

Nothing is downloaded at run time: the driver and the browser are the system's. As root,
Chromium needs ``--no-sandbox``; the ``--disable-*`` switches keep it from reaching for the
network (updates, sync, first-run pages), which is refused here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SWITCHES = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
    "--lang=id-ID",
)


def chromium_or_skip() -> None:
    """Skip when the browser is missing, except in CI, where `.ci/run` installs it."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = (
        "Debian's chromium and chromium-driver are not installed "
        "(apt-get install -y chromium chromium-driver)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def start_chromium() -> WebDriver:
    chromium_or_skip()
    options = Options()
    options.binary_location = CHROMIUM
    for switch in SWITCHES:
        options.add_argument(switch)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 15) -> Any:
    """The first truthy value of ``condition(driver)`` within ``timeout`` seconds (an element
    missing, or re-drawn under the condition's feet, counts as not yet)."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    wait = WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored)
    return wait.until(condition)

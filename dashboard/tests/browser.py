# Helpers of the browser tests: a headless Chromium (Debian's, driven by Selenium through chromedriver), a
# cluster with keys and a credential per role, `titan dashboard` on a free port, and waits with a deadline.
import os
import re
import shutil
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cluster import Cluster
from node_process import NodeProcess, titan_bin
from secure_cluster import titan

DEADLINE_S = 30
DASHBOARD_READY_RE = re.compile(r"^READY dashboard (http://\S+)$")
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def have_chromium() -> bool:
    return all(os.access(p, os.X_OK) for p in CHROMIUM) or bool(shutil.which("chromedriver"))


def browser() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    if os.path.exists(CHROMIUM[0]):
        opts.binary_location = CHROMIUM[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,900"):
        opts.add_argument(arg)
    driver_path = CHROMIUM[1] if os.path.exists(CHROMIUM[1]) else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def secure_cluster(root: Path):
    """(cluster with workers w1 and w2, {role: credential file}) with CURVE on."""
    keys = root / "keys"
    titan("keys", "init", "--keys", str(keys))
    creds = {"admin": keys / "admin.cred"}
    for name, role in (("olivia", "operator"), ("rita", "reader"), ("workers", "worker")):
        creds[role] = root / (name + ".cred")
        titan("keys", "add", name, "--role", role, "--keys", str(keys), "--out", str(creds[role]))
    cluster = Cluster(root, workers=[("w1", []), ("w2", [])], keys=keys, worker_credential=creds["worker"])
    return cluster.start(), creds


def start_dashboard(root: Path, broker_port: int, credential: Path) -> NodeProcess:
    """`titan dashboard` on a free loopback port, run with this interpreter; its READY line has the login URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env["TITAN_DASHBOARD_PYTHON"] = sys.executable
    env["TITAN_HOME"] = os.environ["TITAN_HOME"]
    args = ["--port", str(broker_port), "--credentials", str(credential), "dashboard", "--listen", "127.0.0.1:0"]
    return NodeProcess("dashboard", args, DASHBOARD_READY_RE, root / "dashboard.stderr.log", env=env).start()


def wait_for(driver, condition, what: str):
    """condition(driver) until truthy, at most DEADLINE_S; the failure names `what`."""
    return WebDriverWait(driver, DEADLINE_S, poll_frequency=0.1).until(condition, "waited %d s for %s"
                                                                      % (DEADLINE_S, what))


def cell_text(driver, selector: str) -> str:
    """The text of the first element `selector` finds now ("" when none); read in the page, so a row the live
    feed replaces meanwhile is never a stale reference."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                                 selector)


def paste_login(driver, base: str, credential: Path) -> None:
    """Logs in through the form with the content of `credential`."""
    driver.delete_all_cookies()
    driver.get(base + "/login")
    box = wait_for(driver, lambda d: d.find_element(By.ID, "credential"), "the login form")
    driver.execute_script("arguments[0].value = arguments[1];", box, credential.read_text())
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    wait_for(driver, lambda d: "(" in cell_text(d, "#who .principal"), "the logged-in principal")


def screenshot(driver, folder: Path, name: str) -> None:
    path = folder / (name + ".png")
    driver.save_screenshot(str(path))
    print("screenshot:", path)

# A broker whose disk fills, seen in a real headless Chromium: every page shows a banner saying the broker is
# read-only and why, an action is refused with the broker's own UNAVAILABLE message, and the banner goes by
# itself once space returns. The broker keeps its folder on a tiny tmpfs the test fills (tests/python/
# tiny_disk.py: root only, skipped elsewhere saying why). Every wait has a deadline; none sleeps.
import pytest

from browser import browser, cell_text, have_chromium, screenshot, secure_cluster, start_dashboard, wait_for
from cluster import unique_id, write_script
from secure_cluster import client
from selenium.webdriver.common.by import By
from tiny_disk import tiny_disk
from titan_sdk import TitanJob, UnavailableError

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs chromium and chromium-driver (apt-get install "
                                "chromium chromium-driver, or TITAN_TEST_TOOLS=1 cli/install.sh)")


def banner_shown(driver) -> bool:
    return driver.execute_script("return !document.getElementById('read-only').hidden;")


def test_a_read_only_broker_is_shown_on_every_page_and_the_banner_goes_when_space_returns(tmp_path):
    disk = tiny_disk(tmp_path / "broker")  # the broker's folder (Cluster keeps it in root/broker)
    cluster, creds = secure_cluster(tmp_path)
    dashboard = driver = None
    try:
        dashboard = start_dashboard(tmp_path, cluster.port, creds["admin"])
        driver = browser()
        driver.get(dashboard.ready.group(1))  # the one-time link logs the admin in
        base = dashboard.ready.group(1).split("/login")[0]
        with client(cluster, creds["admin"]) as sdk:
            schedule = unique_id("nightly")
            sdk.add_schedule(schedule, "0 2 * * *", [TitanJob("tick", write_script(tmp_path, "t.sh", "true\n"))])
            driver.get(base + "/schedules")
            row = "#schedules tr[data-schedule='%s']" % schedule
            button = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row + " button[data-action=disable]"),
                              "the schedule's Disable button")
            assert not banner_shown(driver)

            disk.fill()
            with pytest.raises(UnavailableError):  # the turn cannot commit: the broker turns read-only
                sdk.submit_job(TitanJob(unique_id("during"), write_script(tmp_path, "d.sh", "true\n")))
            wait_for(driver, banner_shown, "the read-only banner")
            shown = cell_text(driver, "#read-only")
            assert "The broker is read-only" in shown and "disk full on the broker (%s)" % disk.path in shown, shown
            button[0].click()  # refused: the broker's own words in the page's banner
            wait_for(driver, lambda d: "UNAVAILABLE: disk full on the broker" in cell_text(d, "#banner"),
                     "the refusal of the action")
            screenshot(driver, tmp_path, "read-only")
            assert next(s for s in sdk.list_schedules() if s["name"] == schedule)["enabled"] is True
            driver.get(base + "/jobs")  # every page says so, from its first render
            wait_for(driver, banner_shown, "the read-only banner on another page")

            disk.free()
            wait_for(driver, lambda d: not banner_shown(d), "the banner to go once space is back")
            assert not sdk.get_stats().get("read_only")
    finally:
        if driver is not None:
            driver.quit()
        if dashboard is not None:
            dashboard.stop()
        cluster.stop()
        disk.unmount()

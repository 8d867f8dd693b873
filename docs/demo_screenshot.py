"""Make docs/demo-badges.png: a real demo conversation (the app as `make run` serves it, on the
real demo models) in headless chromium, with the automatic badge beside a human rating.

    .venv/bin/python docs/demo_screenshot.py URL   # URL of a running `make run` app
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "demo-badges.png"
TURNS = ("From now on, answer in all lowercase letters. List three colors, one per line.",
         "Now answer in one word: what color is the sky?")


def main(url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1300, "height": 1250})
        page.set_default_timeout(600_000)  # the demo model on a busy 2-core CPU
        page.goto(url)
        page.locator("#rater-name textarea, #rater-name input").first.fill("demo-rater")
        page.wait_for_timeout(1500)
        page.get_by_text("System prompt and sampling").first.click()  # greedy, short: a busy CPU
        page.get_by_label("Temperature").first.fill("0")
        page.get_by_label("Max new tokens").first.fill("40")
        page.get_by_text("System prompt and sampling").first.click()
        pane = page.locator("#chat-chat-single")
        for n, text in enumerate(TURNS, 1):
            page.locator("#chat-input textarea").fill(text)
            page.locator("#chat-input textarea").press("Enter")
            pane.get_by_text("auto:").nth(n - 1).wait_for()
            page.locator("#chat-followed").get_by_text("No", exact=True).click()  # neither was lowercase
            page.locator("#chat-save-rating").click()
            pane.get_by_text("rated:").nth(n - 1).wait_for()
        page.evaluate("window.scrollTo(0, 0)")  # the demo banner, then the conversation
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT), full_page=False)
        browser.close()
    print(OUT)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/")

"""The browser checks: a page opened in headless Chromium as a reader opens it, driven by a script that clicks
what a reader clicks and writes what it finds into the page, which Chromium then dumps.

Chromium comes from Debian (`make browser` installs chromium-headless-shell where apt-get may run); where
there is none, the checks are skipped with one line, unless MIMFLOW_REQUIRE_BROWSER=1 (CI) makes that a
failure.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
RESULT_ID = "mimflow-browser-check"

# The scorecard page: the embedded figure decoded, the tables, the folded unscored points and the headline.
SCORECARD_SCRIPT = """
window.addEventListener("load", () => {
  const img = document.querySelector("#scorecard-figure img");
  finish({
    figure_width: img && img.complete ? img.naturalWidth : 0,
    tables: document.querySelectorAll("table").length,
    folded: document.querySelectorAll("details table").length,
    headline: (document.querySelector("p.headline") || {}).textContent || "",
  });
});
"""

# The Snakemake report: read its opening text, then open a category from the menu and press the view button of one of its items, as a
# reader does; the figure is shown as an <img>, an HTML item (a summary table) in an <iframe>.
REPORT_SCRIPT = """
const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
const rowOf = label => [...document.querySelectorAll("nav tr")].find(
  tr => tr.cells.length && tr.cells[0].textContent.trim() === label);
async function view(category, label) {
  app.setView({ navbarMode: "menu" });  // back to the menu first, as a reader does
  await wait(300);
  app.showCategory(category);
  await wait(300);
  const row = rowOf(label);
  if (!row) return false;
  row.querySelector('a[iconname="eye"]').click();
  await wait(500);
  return true;
}
window.addEventListener("load", async () => {
  await wait(300);
  const out = { intro: (document.querySelector("#app .prose") || {}).textContent || "" };  // the opening page
  out.figure_item = await view(FIGURE_CATEGORY, FIGURE_LABEL);
  const img = [...document.querySelectorAll("#app img")].find(i => i.src.startsWith("data:image/png") && i.naturalWidth > 100);
  out.figure_width = img ? img.naturalWidth : 0;
  out.table_item = await view(TABLE_CATEGORY, TABLE_LABEL);
  const frame = document.querySelector("#app iframe");
  out.table_src = frame ? frame.src : "";
  finish(out);
});
"""


def chromium() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


def require_chromium() -> str:
    path = chromium()
    if path is None:
        message = "no Chromium here (make browser installs Debian's chromium-headless-shell): browser check skipped"
        if os.environ.get("MIMFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail(message.replace("skipped", "required (MIMFLOW_REQUIRE_BROWSER=1)"))
        pytest.skip(message)
    return path


def rendered(page: Path, script: str, scratch: Path, timeout_s: int = 300, **constants: str) -> dict:
    """Open a copy of `page` in headless Chromium with `script` added at its end (`constants` defined as JS
    strings before it; the script calls finish(result)), and return the result it found."""
    text = page.read_text(encoding="utf-8")
    defined = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in constants.items())
    finish = (f"function finish(result) {{ const pre = document.createElement('pre'); pre.id = '{RESULT_ID}'; "
              "pre.textContent = JSON.stringify(result); document.body.appendChild(pre); }\n")
    end = text.rindex("</body>")
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / page.name
    copy.write_text(text[:end] + f"<script>\n{finish}{defined}{script}</script>\n" + text[end:], encoding="utf-8")
    proc = subprocess.run([require_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           "--virtual-time-budget=30000", f"--user-data-dir={scratch / 'profile'}",
                           copy.resolve().as_uri()], capture_output=True, text=True, timeout=timeout_s)
    found = re.search(rf'<pre id="{RESULT_ID}">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page's check did not finish (Chromium exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))

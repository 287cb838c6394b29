"""Checks every main page of the journeys gets: axe-core, reflow, the Content-Security-Policy.

axe-core comes from the PyPI package axe-playwright-python, which ships axe.min.js; it is
evaluated in the page through the DevTools protocol, which the page's CSP does not govern, so the
journeys keep the real CSP on (a page that needs an inline script or style fails here).
"""

import json
import re

from axe_playwright_python.sync_playwright import Axe

from tests.conftest import ARTIFACTS_DIR, screenshot

BLOCKING_IMPACTS = {"serious", "critical"}
_axe = Axe()


def watch_console(page) -> list[str]:
    """Collect the page's console errors (CSP refusals among them) for `check_page`."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text) if message.type == "error" else None)
    page.journey_console = messages
    return messages


def axe_violations(page, name: str) -> list[dict]:
    """Run axe-core on the page; store the full result under test-artifacts/axe/; return the
    serious and critical violations."""
    results = _axe.run(page).response
    folder = ARTIFACTS_DIR / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.json").write_text(
        json.dumps({"url": page.url, "violations": results["violations"]}, indent=1, ensure_ascii=False)
    )
    return [violation for violation in results["violations"] if violation["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} {violation['helpUrl']}")
        for node in violation["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (WCAG 1.4.10 reflow): 0 is right."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def check_page(page, name: str, *, full_page: bool = True) -> None:
    """Screenshot, then: no serious or critical axe violation, no sideways scrolling, no
    refused script or style (CSP) on this page so far."""
    screenshot(page, name, full_page=full_page)
    blocking = axe_violations(page, name)
    assert not blocking, f"axe-core on {page.url} ({name}):\n{describe(blocking)}"
    overflow = horizontal_overflow(page)
    assert overflow <= 0, f"{page.url} ({name}) scrolls sideways by {overflow}px at this width"
    refused = [text for text in getattr(page, "journey_console", []) if "Content Security Policy" in text]
    assert not refused, f"the Content-Security-Policy refused something on {page.url}: {refused}"


def focus_outline(page) -> dict:
    """The computed outline of the focused element."""
    return page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor}; }"""
    )


def assert_focus_visible(page) -> None:
    outline = focus_outline(page)
    assert outline["style"] not in ("none", "hidden") and outline["width"] >= 2, (
        f"the focused element shows no visible focus outline: {outline}"
    )


def assert_error_tied_to_field(page, field_selector: str) -> str:
    """The field is marked invalid and describes itself with a visible message that is
    announced (role=alert or inside a live region). Returns the message."""
    field = page.locator(field_selector)
    assert field.get_attribute("aria-invalid") == "true", f"{field_selector} is not marked aria-invalid"
    described_by = (field.get_attribute("aria-describedby") or "").split()
    assert described_by, f"{field_selector} has no aria-describedby"
    texts = []
    for element_id in described_by:
        target = page.locator(f"[id='{element_id}']")
        assert target.count() == 1, f"{field_selector} points aria-describedby at #{element_id}, which does not exist"
        texts.append(target.inner_text().strip())
    errors = page.locator(",".join(f"[id='{element_id}'][role='alert']" for element_id in described_by))
    assert errors.count() >= 1, f"the error of {field_selector} is not announced (no role=alert among {described_by})"
    message = " ".join(texts)
    assert message, f"the description of {field_selector} is empty"
    return message

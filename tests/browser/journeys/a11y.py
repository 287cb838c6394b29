"""Checks every main page of the journeys gets: axe-core, reflow, the Content-Security-Policy.

axe-core comes from the PyPI package axe-playwright-python, which ships axe.min.js; it is
evaluated in the page through the DevTools protocol, which the page's CSP does not govern, so the
journeys keep the real CSP on (a page that needs an inline script or style fails here).

Also the waits for htmx that the browser tests share: a page is read only once htmx has answered
and swapped, never after a fixed time (`wait_for_htmx`, `htmx_answer_to`, `draft_autosave`).
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS_DIR, screenshot

BLOCKING_IMPACTS = {"serious", "critical"}
_axe = Axe()


# htmx marks the element of a request in flight (htmx-request, from sending until its answer is
# swapped in), the target while it is swapped (htmx-swapping) and the new content until it has
# settled (htmx-settling): without any of them, no answer is pending or half applied.
_HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def wait_for_htmx(page) -> None:
    """Wait until htmx has no request in flight and nothing left to swap or settle.

    Only requests that have started count: a trigger with a delay (hx-trigger "... delay:500ms")
    sends nothing during its delay, so wait for its answer first (`htmx_answer_to`, or
    `page.expect_response` for a request that can be told apart), or for the content it brings."""
    page.wait_for_function(_HTMX_IDLE, polling=50)


@contextmanager
def htmx_answer_to(page, event_type: str) -> Iterator[None]:
    """Around an action whose htmx request waits out a delay: after the block, wait until htmx has
    answered a request triggered by an `event_type` event (keyup, change, ...) and has settled."""
    answered = page.evaluate_handle(
        """(type) => {
             const state = {answered: false};
             document.body.addEventListener('htmx:afterRequest', (event) => {
               const cause = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
               if (cause && cause.type === type) state.answered = true;
             });
             return state;
           }""",
        event_type,
    )
    yield
    try:
        page.wait_for_function("state => state.answered", arg=answered, polling=50)
    except PlaywrightTimeoutError:
        raise AssertionError(f"htmx sent no request for a {event_type!r} event (or it was not answered)") from None
    wait_for_htmx(page)


def draft_autosave(**fields: str):
    """For `page.expect_response`: the referral form's autosave (its hx-trigger waits 800 ms after
    the last change) that carries these field values, so a test waits for the save of what it
    typed last, not for an earlier one."""

    def is_it(response) -> bool:
        request = response.request
        if request.method != "POST" or not request.url.endswith("/referrals/new/"):
            return False
        data = parse_qs(request.post_data or "", keep_blank_values=True)
        return data.get("action") == ["draft"] and all(value in data.get(name, []) for name, value in fields.items())

    return is_it


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
    refused script or style (CSP) on this page so far.

    First waits for the page to have loaded and htmx to be idle, so axe never runs on content that
    is being replaced (a debounced request is the caller's to wait for: see `wait_for_htmx`)."""
    page.wait_for_load_state("load")
    wait_for_htmx(page)
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
    """The focused element gets a visible outline (at least 2 px); waited for, not read once."""
    try:
        page.wait_for_function(
            """() => { const s = getComputedStyle(document.activeElement);
                       return !['none', 'hidden'].includes(s.outlineStyle) && parseFloat(s.outlineWidth) >= 2; }""",
            polling=50,
        )
    except PlaywrightTimeoutError:
        raise AssertionError(f"the focused element shows no visible focus outline: {focus_outline(page)}") from None


def assert_error_tied_to_field(page, field_selector: str) -> str:
    """The field is marked invalid and describes itself with a visible message that is
    announced (role=alert or inside a live region). Returns the message.

    Auto-retrying: after an htmx answer the marked field is swapped in a moment later."""
    field = page.locator(field_selector)
    expect(field, f"{field_selector} is not marked aria-invalid").to_have_attribute("aria-invalid", "true")
    expect(field, f"{field_selector} has no aria-describedby").to_have_attribute("aria-describedby", re.compile(r"\S"))
    described_by = (field.get_attribute("aria-describedby") or "").split()
    texts = []
    for element_id in described_by:
        target = page.locator(f"[id='{element_id}']")
        missing = f"{field_selector} points aria-describedby at #{element_id}, which does not exist"
        expect(target, missing).to_have_count(1)
        texts.append(target.inner_text().strip())
    errors = page.locator(",".join(f"[id='{element_id}'][role='alert']" for element_id in described_by))
    unannounced = f"the error of {field_selector} is not announced (no role=alert among {described_by})"
    expect(errors.first, unannounced).to_be_attached()
    message = " ".join(texts)
    assert message, f"the description of {field_selector} is empty"
    return message

"""When a GET answers with a fragment of its page instead of the whole page."""


def wants_fragment(request) -> bool:
    """htmx asked for a part of the page (a filter change, a poll). Not when htmx restores a
    page from history after its cache missed: then it replaces the whole body, so it needs the
    whole page, or the user is left with a bare fragment after pressing Back."""
    return bool(request.htmx) and not request.htmx.history_restore_request

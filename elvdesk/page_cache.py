"""The desk's one cache: rendered parts of pages, shared by the users of a region.

A part (the bed overview's results, the board's columns, a referral's suggested locations, the
API's list of locations with their counts) is the same for everybody of a region who asks the
same question, so it is rendered once and kept in the cache: as HTML, or for the API as the plain
JSON-ready data its serializer produced. Nothing else is cached: no ORM objects, no query results.

Its key holds everything the part shows, so a cached part is never older than what it shows:

- the region's generation (`Region.page_generation`): every service that changes what a page of
  the region shows calls `region_changed()` (or `capacity_changed()`), which adds one to it right
  after the transaction commits — before the writer's response goes out, so the next request of
  anybody, through any app server, reads the new number and misses the old copy;
- the question: the part's name, filters, audience (role, organisation), the language;
- the minute: waiting times, "confirmed 5 minutes ago", SLA states, stale marks and admission
  hours move with the clock, and the suggested locations depend on the time of day, so the clock
  is an input like any other, at the minute's resolution. A change that bypasses the services
  (Django's admin, a manual SQL fix) is therefore visible within that minute too.

The generation lives in PostgreSQL, beside the data, not in Redis: a bump can then not be lost
while the cache is unreachable and found again with the old copies when it comes back.

The CSRF token of the forms in a part is personal: the part is rendered with a random placeholder
where the token goes and every request puts its own token in (htmx requests also carry the token
once, in the `hx-headers` of the page's `<body>`; the hidden field is for forms posted without
JavaScript).
"""

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, Subquery
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from beds.models import Capacity
from providers.models import Region

# Within the minute of its key a part is served; after that it is never asked for again, so it
# only has to outlive the minute.
PART_SECONDS = 120


# --- the generation --------------------------------------------------------------------------


def _pending() -> dict[str, set[int]]:
    """The regions and bed counts this connection's transaction changed, not yet bumped."""
    connection = transaction.get_connection()
    return connection.__dict__.setdefault("_page_cache_pending", {"regions": set(), "capacities": set()})


def _flush() -> None:
    """One UPDATE for everything the committed transaction changed (however many steps it took)."""
    pending = _pending()
    regions, capacities = set(pending["regions"]), set(pending["capacities"])
    pending["regions"].clear()
    pending["capacities"].clear()
    changed = Q(pk__in=regions) if regions else Q(pk__in=[])
    if capacities:
        of_capacities = Capacity.objects.filter(pk__in=capacities).values("location__organisation__region_id")
        changed |= Q(pk__in=Subquery(of_capacities))
    Region.objects.filter(changed).update(page_generation=F("page_generation") + 1)


def _after_commit(flush: Callable[[], None]) -> None:
    # After the commit, not inside the transaction: a bump there would hold the region's row
    # until the commit and make every other writer of the region wait for it (or deadlock with
    # one that holds a bed count this transaction locks next). Outside a transaction: at once.
    # Robust: the change is committed whatever happens to the bump (the minute then bounds it).
    transaction.on_commit(flush, robust=True)


def _note(kind: str, ids: set[int]) -> None:
    if not ids:
        return
    _pending()[kind].update(ids)
    connection = transaction.get_connection()
    # One flush per transaction: registered again only if none is waiting (a rolled-back
    # savepoint drops what was registered in it).
    if not (connection.in_atomic_block and any(hook is _flush for _, hook, _ in connection.run_on_commit)):
        _after_commit(_flush)


def region_changed(*region_ids: int | None) -> None:
    """What the pages of these regions show has changed (or will, when the current transaction
    commits): their cached parts are not served again."""
    _note("regions", {pk for pk in region_ids if pk is not None})


def capacity_changed(capacity_ids: Iterable[int]) -> None:
    """A bed count changed: so did the pages of its location's region."""
    _note("capacities", set(capacity_ids))


def region_generation(region_id: int) -> int:
    rows = Region.objects.filter(pk=region_id).order_by().values_list("page_generation", flat=True)[:1]
    return next(iter(rows), 0)


# --- the parts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    html: SafeString
    facts: dict = field(default_factory=dict)  # what the renderer kept beside the HTML


def part_key(*, name: str, region_id: int, question: Iterable, generation: int | None = None) -> str:
    """The key of a part: see the module's docstring. One query (the region's generation), unless
    the caller read it already in this request."""
    if generation is None:
        generation = region_generation(region_id)
    facts = repr([get_language(), int(time.time() // 60), *question])
    digest = hashlib.sha256(facts.encode()).hexdigest()[:32]
    return f"part:{name}:{region_id}:{generation}:{digest}"


def _request_generation(request, region_id: int) -> int:
    """The region's generation as this request read it. For the user's own region it came with
    the signed-in user (loaded with organisation and region at the start of every request,
    accounts/backends.py): no query. A request that started before a change may show the page as
    it was when it started; the next one reads the new number."""
    organisation = getattr(getattr(request, "user", None), "organisation", None)
    if organisation is not None and organisation.region_id == region_id:
        return organisation.region.page_generation
    seen = request.__dict__.setdefault("_page_generations", {})
    if region_id not in seen:
        seen[region_id] = region_generation(region_id)
    return seen[region_id]


def cached_data(*, name: str, region_id: int, question: Iterable, compute: Callable[[], object]):
    """The API answer `name` of the region for `question` (plain lists, dicts, strings and numbers),
    from the cache or `compute()`d."""
    key = part_key(name=name, region_id=region_id, question=question)
    data = cache.get(key)
    if data is None:
        data = compute()
        cache.set(key, data, PART_SECONDS)
    return data


def cached_part(
    request,
    *,
    name: str,
    region_id: int,
    question: Iterable,
    template: str,
    context: Callable[[], tuple[dict | None, dict]],
) -> Part:
    """The part `name` of the region for `question`, from the cache or rendered from `template`
    with `context()`, which returns the template's context (None: the part is empty) and the facts
    to keep beside the HTML (for example whom it shows, for the access log)."""
    key = part_key(
        name=name, region_id=region_id, question=question, generation=_request_generation(request, region_id)
    )
    entry = cache.get(key)
    if entry is None:
        values, facts = context()
        placeholder = secrets.token_hex(16)
        html = render_to_string(template, {**values, "csrf_token": placeholder}) if values is not None else ""
        entry = {"html": html, "placeholder": placeholder, "facts": facts}
        cache.set(key, entry, PART_SECONDS)
    html = entry["html"].replace(entry["placeholder"], get_token(request)) if entry["html"] else ""
    return Part(
        html=mark_safe(html),  # nosec B308 B703: our own template's output, escaped when it was rendered
        facts=entry["facts"],
    )

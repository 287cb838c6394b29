"""FHIR R4 endpoints under /fhir/r4/.

Capacity resources (Organization, Location, HealthcareService, MeasureReport) carry no patient
data: every role of a region reads its own region, with a person's token or an organisation's
API key. ServiceRequest and Task are referrals: the same roles and visibility as the pages
(referrals_visible_to), a person's token only, and every access in the NEN 7513 log.
"""

import json
import re
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.authentication import OrganisationTokenAuthentication
from accounts.models import Role
from accounts.permissions import role_permission
from audit.trail import AuditedApiMixin
from beds.models import Capacity, CapacityChange
from interop.fhir import codes, resources
from interop.fhir.intake import idempotency_key, parse_referral_bundle
from interop.fhir.protocol import (
    FHIR_JSON,
    FhirError,
    FhirView,
    Search,
    filter_date,
    id_number,
    instant,
    invalid,
    issue,
    not_found,
    operation_outcome,
    parse_token,
    reference_id,
    searchset,
)
from interop.selectors import capacities_at, is_stale, region_capacities
from providers.geo import haversine_km
from providers.models import Location, Organisation, Product
from referrals import services as referral_services
from referrals.api import ReferralListCreateApi
from referrals.models import Offer, OfferState
from referrals.selectors import referral_for_user, referrals_visible_to

REFERRERS = (Role.GP, Role.TRANSFER_NURSE)
CAN_SEE_REFERRALS = (*REFERRERS, Role.PROVIDER_STAFF, Role.COORDINATOR)
PERSON_AUTHENTICATION = [OrganisationTokenAuthentication, SessionAuthentication]
DEFAULT_NEAR_KM = 50.0
MAX_NEAR_KM = 500.0


def _ids(values: list[str]) -> set[int]:
    """`_id` values (comma-separated = OR); ids that cannot exist match nothing."""
    return {number for value in values for v in value.split(",") if (number := id_number(v)) is not None}


class ResourceView(FhirView):
    """Read (`/<type>/<id>`) and search (`/<type>?…`) of one resource type."""

    resource_type = ""
    documentation = ""
    interactions = ("read", "search-type")
    # name → (FHIR search parameter type, documentation)
    search_params: dict[str, tuple[str, str]] = {}

    def get_queryset(self):
        raise NotImplementedError

    def to_resource(self, obj) -> dict:
        raise NotImplementedError

    def search(self, search: Search, queryset):
        """Apply the declared parameters (each as `search_<name>`)."""
        for name in self.search_params:
            values = search.values(name)
            if values:
                method = getattr(self, "search_" + name.lstrip("_").replace("-", "_").lower())
                queryset = method(queryset, values, search)
        return queryset

    def get(self, request, pk=None):
        if pk is not None:
            obj = self.get_queryset().filter(pk=pk).first()
            if obj is None:
                raise not_found()
            return Response(self.to_resource(obj))
        search = Search(self, self.search_params)
        return Response(search.bundle(self.search(search, self.get_queryset()), self.to_resource))

    def search_id(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(pk__in=_ids([value]))
        return queryset


# --- Organization -----------------------------------------------------------------------------


class OrganizationView(ResourceView):
    resource_type = "Organization"
    documentation = "The organisations of your region: providers, GP practices, hospitals, the desk, insurers."
    search_params = {
        "_id": ("token", "Logical id; comma-separated for several."),
        "identifier": ("token", f"AGB code: {codes.AGB_SYSTEM}|<8 digits> (or just the digits)."),
        "name": ("string", "Name starts with (case-insensitive)."),
    }

    def get_queryset(self):
        return Organisation.objects.filter(region_id=self.request.user.organisation.region_id).order_by("name", "pk")

    def to_resource(self, obj):
        return resources.organization(obj)

    def search_identifier(self, queryset, values, search):
        for value in values:
            matches = []
            for token in value.split(","):
                system, code = parse_token(token)
                if system in (None, codes.AGB_SYSTEM) and code:
                    matches.append(code)
            queryset = queryset.filter(agb_code__in=matches)
        return queryset

    def search_name(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(name__istartswith=value)
        return queryset


# --- Location ---------------------------------------------------------------------------------


def _near(value: str) -> tuple[float, float, float]:
    parts = value.split("|")
    message = _("near is latitude|longitude|distance|km, e.g. 50.88|5.98|10|km.")
    if len(parts) < 2 or len(parts) > 4:
        raise invalid(message)
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else DEFAULT_NEAR_KM
    except ValueError:
        raise invalid(message) from None
    units = parts[3] if len(parts) > 3 else "km"
    if units not in ("km", ""):
        raise invalid(_("near: only distances in km are supported."))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or not 0 < distance <= MAX_NEAR_KM:
        raise invalid(message)
    return latitude, longitude, distance


def _postcode_prefix(value: str) -> str:
    compact = value.replace(" ", "").upper()
    return compact if len(compact) <= 4 else f"{compact[:4]} {compact[4:]}"


class LocationView(ResourceView):
    resource_type = "Location"
    documentation = (
        "Provider locations of your region. operationalStatus (HL7 v2 0116): U = a bed of some product can be "
        "offered, O = none can, C = inactive. With `near`, nearest first, the distance in each entry's search "
        "extension."
    )
    search_params = {
        "_id": ("token", "Logical id; comma-separated for several."),
        "organization": ("reference", "Managing organisation: Organization/<id>."),
        "address-postalcode": ("string", "Postcode starts with, spaces ignored: 6411, 6411AB, 6411 AB."),
        "address-city": ("string", "City starts with (case-insensitive)."),
        "name": ("string", "Name starts with (case-insensitive)."),
        "status": ("token", "active or inactive."),
        "near": (
            "special",
            f"latitude|longitude|distance|km (distance default {DEFAULT_NEAR_KM:g} km, at most {MAX_NEAR_KM:g}); "
            "results nearest first.",
        ),
    }

    def get_queryset(self):
        capacities = Capacity.objects.only("id", "location_id", "available", "held")
        return (
            Location.objects.filter(organisation__region_id=self.request.user.organisation.region_id)
            .select_related("organisation")
            .prefetch_related(Prefetch("capacities", queryset=capacities))
            .order_by("name", "pk")
        )

    def to_resource(self, obj):
        return resources.location(obj)

    def get(self, request, pk=None):
        if pk is not None:
            return super().get(request, pk)
        search = Search(self, self.search_params)
        queryset = self.search(search, self.get_queryset())
        extras = None
        if "distance_km" in queryset.query.annotations:

            def extras(location):
                return {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/location-distance",
                            "valueDistance": {
                                "value": round(location.distance_km, 3),
                                "unit": "km",
                                "system": "http://unitsofmeasure.org",
                                "code": "km",
                            },
                        }
                    ]
                }

        return Response(search.bundle(queryset, self.to_resource, entry_extras=extras))

    def search_organization(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(organisation_id__in=[reference_id(v, "Organization") for v in value.split(",")])
        return queryset

    def search_address_postalcode(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(postcode__istartswith=_postcode_prefix(value))
        return queryset

    def search_address_city(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(city__istartswith=value)
        return queryset

    def search_name(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(name__istartswith=value)
        return queryset

    def search_status(self, queryset, values, search):
        for value in values:
            wanted = {v.strip() for v in value.split(",")}
            if not wanted <= {"active", "inactive"}:
                raise invalid(_("status is active or inactive."))
            if len(wanted) == 1:
                queryset = queryset.filter(is_active="active" in wanted)
        return queryset

    def search_near(self, queryset, values, search):
        if len(values) > 1:
            raise invalid(_("Give near only once."))
        latitude, longitude, distance = _near(values[0])
        return (
            queryset.filter(latitude__isnull=False, longitude__isnull=False)
            .annotate(distance_km=haversine_km(latitude=latitude, longitude=longitude))
            .filter(distance_km__lte=distance)
            .order_by("distance_km", "name", "pk")
        )


# --- HealthcareService ------------------------------------------------------------------------


class HealthcareServiceView(ResourceView):
    resource_type = "HealthcareService"
    documentation = (
        "One product (kind of bed) at one location; the id is that bed count's id, meta.versionId its version, "
        "meta.lastUpdated its last change. The counts themselves are in MeasureReport."
    )
    search_params = {
        "_id": ("token", "Logical id; comma-separated for several."),
        "organization": ("reference", "Providing organisation: Organization/<id>."),
        "location": ("reference", "Location/<id>."),
        "service-type": ("token", f"Product: {codes.system('product')}|elv_hoog (or just the code)."),
        "active": ("token", "true or false."),
        "_lastUpdated": ("date", "Last change of the count, with prefixes eq, gt, ge, lt, le."),
    }

    def get_queryset(self):
        last_change = CapacityChange.objects.filter(capacity=OuterRef("pk")).order_by("-changed_at", "-id")
        return (
            Capacity.objects.filter(location__organisation__region_id=self.request.user.organisation.region_id)
            .select_related("location__organisation", "product")
            .prefetch_related("location__features")
            .annotate(last_updated=Coalesce(Subquery(last_change.values("changed_at")[:1]), F("confirmed_at")))
            .order_by("location__name", "product__sort_order", "pk")
        )

    def to_resource(self, obj):
        return resources.healthcare_service(obj)

    def search_organization(self, queryset, values, search):
        for value in values:
            ids = [reference_id(v, "Organization") for v in value.split(",")]
            queryset = queryset.filter(location__organisation_id__in=ids)
        return queryset

    def search_location(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(location_id__in=[reference_id(v, "Location") for v in value.split(",")])
        return queryset

    def search_service_type(self, queryset, values, search):
        for value in values:
            products = []
            for token in value.split(","):
                system, code = parse_token(token)
                if system in (None, codes.system("product")):
                    products.append(code)
            queryset = queryset.filter(product__code__in=products)
        return queryset

    def search_active(self, queryset, values, search):
        for value in values:
            if value not in ("true", "false"):
                raise invalid(_("active is true or false."))
            queryset = queryset.filter(location__is_active=value == "true")
        return queryset

    def search_lastupdated(self, queryset, values, search):
        for value in values:
            queryset = filter_date(queryset, "last_updated", "_lastUpdated", value)
        return queryset


# --- MeasureReport ----------------------------------------------------------------------------


def _safe(parse, value):
    """Django's date parsers answer None for a wrong format but raise for an impossible date."""
    try:
        return parse(value)
    except ValueError:
        return None


REPORT_ID = re.compile(r"^(?P<kind>region|location)-(?P<pk>\d+)(?:-(?P<date>\d{4}-\d{2}-\d{2}))?$")


class MeasureReportView(FhirView):
    """Bed capacity per product in the style of the HL7 SANER bed-capacity reports: one group per
    product, populations total / available / held / free / expected-24h / expected-72h / locations
    / stale (codes in CodeSystem bed-capacity). For now, or for a past day rebuilt from history."""

    resource_type = "MeasureReport"
    documentation = (
        "Bed capacity of your region (or one location) per product, SANER style. Without period: now. With "
        "period=YYYY-MM-DD: as at the end of that day (Europe/Amsterdam), rebuilt from the count history; with "
        "a dateTime: at that moment. Ids: region-<id>[-YYYY-MM-DD], location-<id>[-YYYY-MM-DD]."
    )
    interactions = ("read", "search-type")
    search_params = {
        "period": ("date", "The day (YYYY-MM-DD) or moment (dateTime) the report describes; default now."),
        "date": ("date", "Same as period."),
        "subject": ("reference", "Location/<id> for one location's report; default the whole region."),
    }

    def get(self, request, pk=None):
        region = request.user.organisation.region
        if pk is not None:
            match = REPORT_ID.match(pk)
            subject_id = id_number(match["pk"]) if match else None
            if subject_id is None or (match["kind"] == "region" and subject_id != region.pk):
                raise not_found()
            location_id = subject_id if match["kind"] == "location" else None
            day = _safe(parse_date, match["date"]) if match["date"] else None
            if match["date"] and day is None:
                raise not_found()
            return Response(self.report(region, location_id=location_id, day=day, moment=None))
        search = Search(self, self.search_params)
        moment_values = search.values("period") + search.values("date")
        subjects = search.values("subject")
        if len(moment_values) > 1 or len(subjects) > 1:
            raise invalid(_("Give one period (or date) and at most one subject."))
        location_id = None
        if subjects:
            location_id = reference_id(subjects[0], "Location")
            if location_id is None:
                raise invalid(_("subject must be Location/<id>."))
        day, moment = self._when(moment_values[0]) if moment_values else (None, None)
        report = self.report(region, location_id=location_id, day=day, moment=moment, missing_ok=True)
        entries = []
        if report is not None:
            entries.append(
                {
                    "fullUrl": f"{self.base_url()}/MeasureReport/{report['id']}",
                    "resource": report,
                    "search": {"mode": "match"},
                }
            )
        return Response(searchset(search.links(len(entries)), entries[: search.count], total=len(entries)))

    def _when(self, value: str):
        raw = value[2:] if value[:2] == "eq" else value
        if "T" in raw:
            moment = _safe(parse_datetime, raw.replace(" ", "+"))
            if moment is None:
                raise invalid(_("period is a date (YYYY-MM-DD) or a dateTime."))
            return None, moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        day = _safe(parse_date, raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
        if day is None:
            raise invalid(_("period is a date (YYYY-MM-DD) or a dateTime; only the eq prefix is supported."))
        return day, None

    def report(self, region, *, location_id, day, moment, missing_ok=False):
        now = timezone.now()
        location = None
        if location_id is not None:
            location = Location.objects.filter(pk=location_id, organisation__region=region).first()
            if location is None:
                if missing_ok:
                    return None
                raise not_found()
        if day is not None:
            start = timezone.make_aware(datetime.combine(day, time.min))
            at = start + timedelta(days=1) - timedelta(microseconds=1)
        else:
            at = moment or now
            start = timezone.make_aware(datetime.combine(timezone.localtime(at).date(), time.min))
        if at > now + timedelta(minutes=1):
            if start > now:
                raise invalid(_("A report cannot describe the future."))
            at = now
        historical = day is not None or moment is not None
        rows = capacities_at(region_capacities(region, location_id=location_id), at=at if historical else None)
        products = {product.pk: product for product in Product.objects.filter(pk__in={r.product_id for r in rows})}
        groups: dict[int, dict[str, int]] = {}
        for row in rows:
            counts = groups.setdefault(
                row.product_id, dict.fromkeys(code for code, _display, _def in codes.BED_CAPACITY)
            )
            for code, value in (
                ("total", row.total),
                ("available", row.available),
                ("held", row.held),
                ("free", row.free),
                ("expected-24h", row.expected_24h),
                ("expected-72h", row.expected_72h),
                ("locations", 1),
                ("stale", int(is_stale(row, at=at, stale_after_hours=region.stale_after_hours))),
            ):
                counts[code] = (counts[code] or 0) + value
        ordered = sorted(groups.items(), key=lambda item: (products[item[0]].sort_order, products[item[0]].code))
        kind, pk = ("location", location.pk) if location else ("region", region.pk)
        report_id = f"{kind}-{pk}" + (f"-{day.isoformat()}" if day else "")
        if location is not None:
            subject = resources.reference("Location", location.pk, location.name)
        else:
            subject = {"identifier": {"system": codes.region_system(), "value": region.code}, "display": region.name}
        return resources.measure_report(
            report_id=report_id,
            subject=subject,
            generated_at=now,
            period={"start": instant(start), "end": instant(at)},
            groups=[{"product": products[pk], "counts": counts} for pk, counts in ordered],
        )


# --- CodeSystem and CapabilityStatement (public) ----------------------------------------------


class PublicFhirView(FhirView):
    authentication_classes = []
    permission_classes = [AllowAny]


class CodeSystemView(PublicFhirView):
    resource_type = "CodeSystem"
    documentation = "The desk's own codes (bed-capacity populations, products, referral states …); public."
    interactions = ("read", "search-type")
    search_params = {"url": ("uri", "Canonical URL of the code system."), "_id": ("token", "Logical id.")}

    def get(self, request, pk=None):
        systems = codes.code_systems()
        if pk is not None:
            if pk not in systems:
                raise not_found()
            return Response(codes.code_system_resource(pk, systems[pk]))
        search = Search(self, self.search_params)
        wanted_urls = {u for value in search.values("url") for u in value.split(",")}
        wanted_ids = {i for value in search.values("_id") for i in value.split(",")}
        selected = [
            codes.code_system_resource(key, definition)
            for key, definition in systems.items()
            if (not wanted_urls or codes.system(key) in wanted_urls) and (not wanted_ids or key in wanted_ids)
        ]
        return Response(search.bundle(_ListQuery(selected), lambda resource: resource))


class _ListQuery(list):
    """A list that pages like a queryset."""

    def count(self):
        return len(self)


class MetadataView(PublicFhirView):
    def get(self, request):
        base = self.base_url()
        resource_entries = []
        for view in RESOURCE_VIEWS:
            entry = {
                "type": view.resource_type,
                "documentation": view.documentation,
                "interaction": [{"code": code} for code in view.interactions],
            }
            if getattr(view, "search_params", None):
                entry["searchParam"] = [
                    {"name": name, "type": kind, "documentation": text}
                    for name, (kind, text) in view.search_params.items()
                ]
            if "create" in view.interactions:
                entry["conditionalCreate"] = True
            resource_entries.append(entry)
        statement = {
            "resourceType": "CapabilityStatement",
            "id": "elvdesk",
            "url": f"{codes.fhir_base()}/metadata",
            "name": "ElvBedDesk",
            "title": "ELV bed desk FHIR R4 server",
            "status": "active",
            "date": instant(timezone.now()),
            "publisher": "ELV bed desk",
            "kind": "instance",
            "software": {"name": "ELV bed desk"},
            "implementation": {"description": "Regional ELV bed desk", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["json", "application/fhir+json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Search results are paged with _count (default 50, at most 200) and _offset; follow the "
                        "Bundle's next/previous links. Unknown search parameters are ignored unless you send "
                        "Prefer: handling=strict. Every error is an OperationOutcome."
                    ),
                    "security": {
                        "description": (
                            "Authorization: Token <user's API token> (python manage.py issue_api_token <user>), or "
                            "Authorization: Api-Key <prefix>.<secret> for an organisation's system (python manage.py "
                            "api_key create). Capacity resources: every role of the region. ServiceRequest and Task: "
                            "a person's token only, same visibility as the portal, logged (NEN 7513). metadata and "
                            "CodeSystem are public."
                        )
                    },
                    "resource": resource_entries,
                }
            ],
        }
        return Response(statement)


# --- ServiceRequest and Task (patient data) ---------------------------------------------------


class ServiceRequestCreateView(AuditedApiMixin, FhirView):
    """POST a transaction Bundle (ServiceRequest + Patient + Coverage): a referral through the same
    service and rules as the form. Idempotency-Key or If-None-Exist (identifier=system|value) or
    the ServiceRequest's identifier: sending it again answers 200 with the first referral."""

    authentication_classes = PERSON_AUTHENTICATION
    permission_classes = [role_permission(*REFERRERS)]
    audit_actions = {"post": "create"}
    audit_referral_kwarg = None

    def post(self, request):
        intake = parse_referral_bundle(request.data)
        serializer = ReferralListCreateApi.Input(data=intake.data)
        valid = serializer.is_valid()
        problems = list(intake.problems)
        if not valid:
            for name, messages in serializer.errors.items():
                for message in _flat(messages):
                    if name in ("bsn", "insurer") and name not in intake.data:
                        continue  # already explained by a structural problem
                    problems.append(issue("invalid", message, expression=intake.expression(name)))
        if problems:
            raise FhirError(400, *problems)
        try:
            referral, created = referral_services.referral_submit(
                by=request.user,
                data=serializer.validated_data,
                idempotency_key=idempotency_key(request.headers, intake),
            )
        except DjangoValidationError as error:
            raise FhirError(
                400,
                *[
                    issue("business-rule", message, expression=intake.expression(name))
                    for name, messages in error.message_dict.items()
                    for message in messages
                ],
            ) from None
        referral = referral_for_user(request.user, referral.pk)
        request.audit.add(referral)
        location = f"{self.base_url()}/ServiceRequest/{referral.pk}"
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        prefer = request.headers.get("Prefer", "").replace(" ", "")
        if "return=minimal" in prefer:
            return Response(None, status=code, headers={"Location": location})
        if "return=OperationOutcome" in prefer:
            message = _("Referral created.") if created else _("This referral was already created.")
            return Response(
                operation_outcome(issue("informational", message, severity="information")),
                status=code,
                headers={"Location": location},
            )
        return Response(resources.service_request(referral), status=code, headers={"Location": location})


def _flat(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flat(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flat(value)]
    return [str(messages)]


class ServiceRequestReadView(AuditedApiMixin, FhirView):
    resource_type = "ServiceRequest"
    documentation = (
        "A referral. Create: POST a transaction Bundle with the ServiceRequest, its Patient (BSN identifier "
        f"{codes.BSN_SYSTEM}) and Coverage (payor identifier {codes.UZOVI_SYSTEM}); honours Idempotency-Key and "
        "If-None-Exist: identifier=system|value. Read: with the Patient and Coverage contained."
    )
    interactions = ("read", "create")
    authentication_classes = PERSON_AUTHENTICATION
    permission_classes = [role_permission(*CAN_SEE_REFERRALS)]
    audit_actions = {"get": "read"}

    def get(self, request, pk: int):
        referral = referral_for_user(request.user, pk)
        request.audit.add(referral)
        return Response(resources.service_request(referral))


def _task_offers() -> Prefetch:
    return Prefetch(
        "offers",
        queryset=Offer.objects.filter(state__in=[OfferState.OPEN, OfferState.ACCEPTED]).select_related(
            "location__organisation"
        ),
        to_attr="task_offers",
    )


class TaskView(AuditedApiMixin, ResourceView):
    resource_type = "Task"
    documentation = (
        "The workflow state of a referral; its id is the ServiceRequest's. status: submitted → requested, triage → "
        "received, searching/offered/accepted → in-progress, admitted/discharged → completed, cancelled → "
        "cancelled, redirected → rejected; businessStatus (CodeSystem referral-state) has the exact state, owner the "
        "provider, output the admission location once a bed is booked."
    )
    authentication_classes = PERSON_AUTHENTICATION
    permission_classes = [role_permission(*CAN_SEE_REFERRALS)]
    audit_actions = {"get": "read"}
    search_params = {
        "_id": ("token", "Logical id; comma-separated for several."),
        "focus": ("reference", "ServiceRequest/<id>."),
        "status": ("token", "Task status, e.g. in-progress."),
        "_lastUpdated": ("date", "Last state change, with prefixes eq, gt, ge, lt, le."),
    }

    def get_queryset(self):
        return referrals_visible_to(self.request.user).prefetch_related(_task_offers()).order_by("-created_at", "-pk")

    def to_resource(self, referral):
        self.request.audit.add(referral)
        return resources.task(referral)

    def get(self, request, pk=None):
        if pk is None:
            request.audit.action = "search"
        return super().get(request, pk)

    def search_focus(self, queryset, values, search):
        for value in values:
            queryset = queryset.filter(pk__in=[reference_id(v, "ServiceRequest") for v in value.split(",")])
        return queryset

    def search_status(self, queryset, values, search):
        for value in values:
            wanted = set(value.split(","))
            states = [state for state, task_status in resources.TASK_STATUS.items() if task_status in wanted]
            queryset = queryset.filter(state__in=states)
        return queryset

    def search_lastupdated(self, queryset, values, search):
        for value in values:
            queryset = filter_date(queryset, "state_changed_at", "_lastUpdated", value)
        return queryset


def fhir_not_found(request) -> HttpResponse:
    """handler404 for paths under /fhir/ that match no route: an OperationOutcome, not a page.
    `Location/abc` is a Location that does not exist (ids are numbers), `Patient/1` a type this
    server does not have."""
    known = {view.resource_type for view in RESOURCE_VIEWS} | {"metadata"}
    segments = request.path.removeprefix("/fhir/r4/").split("/")
    if request.path.startswith("/fhir/r4/") and segments[0] in known:
        message = _("Not found, or not visible to your organisation.")
    else:
        message = _("This FHIR server has no such resource type or operation.")
    outcome = operation_outcome(issue("not-found", message))
    return HttpResponse(json.dumps(outcome), status=404, content_type=f"{FHIR_JSON}; charset=utf-8")


RESOURCE_VIEWS = [
    OrganizationView,
    LocationView,
    HealthcareServiceView,
    MeasureReportView,
    ServiceRequestReadView,
    TaskView,
    CodeSystemView,
]

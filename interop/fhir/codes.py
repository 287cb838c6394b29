"""The desk's own FHIR code systems and identifier systems.

Canonical URLs live under the portal's SITE_URL and resolve: `{SITE_URL}/fhir/r4/CodeSystem/<id>`
answers with the CodeSystem resource, listing every code with its definition. Concepts from the
database (products, features) are listed as they are in this installation.
"""

from django.conf import settings
from django.utils import translation

from providers.models import Feature, OrganisationKind, Product
from referrals.models import Origin, State

AGB_SYSTEM = "http://fhir.nl/fhir/NamingSystem/agb-z"
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
UZOVI_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzovi"
HL7_ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
HL7_LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
HL7_BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"
HL7_MEASURE_TYPE = "http://terminology.hl7.org/CodeSystem/measure-type"
HL7_TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
HL7_ISSUE_TYPE = "http://hl7.org/fhir/issue-type"


def fhir_base() -> str:
    return f"{settings.SITE_URL}/fhir/r4"


def system(code_system_id: str) -> str:
    return f"{fhir_base()}/CodeSystem/{code_system_id}"


def region_system() -> str:
    """Identifier system of the desk's regions (Region.code)."""
    return f"{fhir_base()}/NamingSystem/region"


def measure_url() -> str:
    return f"{fhir_base()}/Measure/bed-capacity"


# (code, display, definition)
BED_CAPACITY = [
    ("total", "Contracted beds", "Beds of this product the location has contracted (Capacity.total)."),
    (
        "available",
        "Available beds",
        "Beds that are free now, including those held for an open offer (Capacity.available).",
    ),
    ("held", "Held beds", "Free beds held for an offer that waits for an answer (Capacity.held)."),
    ("free", "Free beds", "Beds that can still be offered: available minus held."),
    ("expected-24h", "Expected free within 24 h", "Beds the provider expects to come free within 24 hours."),
    ("expected-72h", "Expected free within 72 h", "Beds the provider expects to come free within 72 hours."),
    ("locations", "Locations", "Locations that have a bed count for this product."),
    (
        "stale",
        "Locations with a stale count",
        "Locations whose count for this product was not confirmed within the region's freshness limit "
        "(Region.stale_after_hours) at the moment the report describes. Their figures are included in the "
        "other populations but may be out of date.",
    ),
]

REFERRAL_CRITERIA = [
    ("wakeful-eye", "Needs a 'wakend oog'", "Needs supervision around the clock (LHV criterion)."),
    ("unplannable-nursing", "Unplannable nursing care", "Needs nursing care that cannot be planned (LHV)."),
    ("adl-taken-over", "ADL taken over", "Activities of daily living have to be taken over (LHV)."),
    ("needs-hospital-care", "Needs hospital care", "Needs medical-specialist care (decision support)."),
    ("wlz-indication", "Has a Wlz indication", "Has a Wlz indication (decision support)."),
    ("life-expectancy-short", "Life expectancy under 3 months", "Decision support: palliative care."),
    ("carer-relief-only", "Carer relief only", "Medically stable; the need is relief of the informal carer."),
    (
        "trainable-after-hospital",
        "Trainable after hospital",
        "Learnable/trainable and within a week of a hospital stay.",
    ),
    (
        "needs-elderly-care-specialist",
        "Needs a specialist ouderengeneeskunde",
        "Complex care that needs a specialist ouderengeneeskunde.",
    ),
    ("patient-consent", "Patient consents", "The patient (or representative) consents to the referral."),
]
# FHIR code → Referral field
CRITERIA_FIELDS = {
    code: code.replace("-", "_").replace("patient_consent", "consent") for code, _d, _t in REFERRAL_CRITERIA
}

TASK_OUTPUT = [("admission-location", "Admission location", "The location that accepted the patient.")]

STATE_DEFINITIONS = {
    State.DRAFT: "Not yet submitted.",
    State.SUBMITTED: "Submitted to the regional desk.",
    State.TRIAGE: "The desk is checking the referral.",
    State.SEARCHING: "The desk (or the referrer) is looking for a bed.",
    State.OFFERED: "Offered to a provider location; waiting for its answer.",
    State.ACCEPTED: "A provider accepted: a bed is booked.",
    State.ADMITTED: "The patient has been admitted.",
    State.DISCHARGED: "The stay has ended.",
    State.CANCELLED: "Cancelled, with a reason.",
    State.REDIRECTED: "Redirected to other care (hospital, Wlz crisis, Wmo respite care, GRZ), with a reason.",
}


def _choices(choices) -> list[tuple[str, str, str]]:
    return [(value, str(label), str(label)) for value, label in choices]


def code_systems() -> dict[str, dict]:
    """Every code system the server defines: id → (name, title, description, concepts)."""
    with translation.override("en"):
        return {
            "bed-capacity": {
                "name": "BedCapacityPopulation",
                "title": "ELV bed desk: bed capacity populations",
                "description": (
                    "Population codes of the bed-capacity MeasureReport (SANER style): one group per product, "
                    "one population per code, each with a count."
                ),
                "concepts": BED_CAPACITY,
            },
            "product": {
                "name": "BedProduct",
                "title": "ELV bed desk: products (kinds of bed)",
                "description": "The kinds of bed the desk arranges: ELV laag, hoog, palliatief and what a region adds.",
                "concepts": [(p.code, p.name, p.name) for p in Product.objects.order_by("sort_order", "code")],
            },
            "location-feature": {
                "name": "LocationFeature",
                "title": "ELV bed desk: location features and care needs",
                "description": "What a location offers and a patient may need (single room, oxygen …).",
                "concepts": [(f.code, f.name, f.name) for f in Feature.objects.order_by("code")],
            },
            "organisation-kind": {
                "name": "OrganisationKind",
                "title": "ELV bed desk: kinds of organisation",
                "description": "Care provider, GP practice, hospital, coordination desk or insurer.",
                "concepts": _choices(OrganisationKind.choices),
            },
            "referral-state": {
                "name": "ReferralState",
                "title": "ELV bed desk: referral workflow states",
                "description": "The desk's workflow state of a referral; Task.businessStatus carries it.",
                "concepts": [(value, str(label), STATE_DEFINITIONS[value]) for value, label in State.choices],
            },
            "referral-origin": {
                "name": "ReferralOrigin",
                "title": "ELV bed desk: where the patient is referred from",
                "description": "ServiceRequest.category: home, emergency department or hospital ward.",
                "concepts": _choices(Origin.choices),
            },
            "referral-criteria": {
                "name": "ReferralCriteria",
                "title": "ELV bed desk: referral criteria and answers",
                "description": (
                    "ServiceRequest.orderDetail: each code present means 'yes' to that question of the referral form "
                    "(LHV criteria, decision support, consent)."
                ),
                "concepts": REFERRAL_CRITERIA,
            },
            "task-output": {
                "name": "TaskOutput",
                "title": "ELV bed desk: Task outputs",
                "description": "Task.output types.",
                "concepts": TASK_OUTPUT,
            },
        }


def code_system_resource(code_system_id: str, definition: dict) -> dict:
    concepts = definition["concepts"]
    return {
        "resourceType": "CodeSystem",
        "id": code_system_id,
        "url": system(code_system_id),
        "version": "1",
        "name": definition["name"],
        "title": definition["title"],
        "status": "active",
        "experimental": False,
        "publisher": "ELV bed desk",
        "description": definition["description"],
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": [{"code": code, "display": display, "definition": text} for code, display, text in concepts],
    }


def coding(code_system_id: str, code: str, display: str | None = None) -> dict:
    result = {"system": system(code_system_id), "code": code}
    if display:
        result["display"] = str(display)
    return result

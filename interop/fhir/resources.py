"""The desk's models as FHIR R4 resources (plain dicts, rendered as application/fhir+json).

Mappings worth knowing (also in the README, "Integrate your ECD"):
- Location.operationalStatus (HL7 v2 table 0116): U (unoccupied) when at least one bed of any
  product can still be offered, O (occupied) when none can, C (closed) for an inactive location.
- HealthcareService is one product at one location (a bed count); its id is the count's id and
  meta.versionId its version. Admission hours are its availableTime, the location's features its
  characteristics.
- Task.status follows the referral's state: submitted → requested, triage → received,
  searching / offered / accepted → in-progress, admitted / discharged → completed,
  cancelled → cancelled, redirected → rejected; Task.businessStatus carries the exact state.
"""

from django.utils import translation

from interop.fhir import codes
from interop.fhir.protocol import instant
from providers.models import OrganisationKind
from referrals.models import OfferState, RedirectTarget, State, Urgency

HL7_ORGANIZATION_TYPE_BY_KIND = {
    OrganisationKind.PROVIDER: ("prov", "Healthcare Provider"),
    OrganisationKind.GP_PRACTICE: ("prov", "Healthcare Provider"),
    OrganisationKind.HOSPITAL: ("prov", "Healthcare Provider"),
    OrganisationKind.INSURER: ("ins", "Insurance Company"),
    OrganisationKind.DESK: ("other", "Other"),
}
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

TASK_STATUS = {
    State.DRAFT: "draft",
    State.SUBMITTED: "requested",
    State.TRIAGE: "received",
    State.SEARCHING: "in-progress",
    State.OFFERED: "in-progress",
    State.ACCEPTED: "in-progress",
    State.ADMITTED: "completed",
    State.DISCHARGED: "completed",
    State.CANCELLED: "cancelled",
    State.REDIRECTED: "rejected",
}
SERVICE_REQUEST_STATUS = {
    State.DRAFT: "draft",
    State.ADMITTED: "completed",
    State.DISCHARGED: "completed",
    State.CANCELLED: "revoked",
    State.REDIRECTED: "revoked",
}
PRIORITY_BY_URGENCY = {Urgency.TODAY: "stat", Urgency.WITHIN_24H: "urgent", Urgency.PLANNED: "routine"}
GENDER_BY_SEX = {"F": "female", "M": "male", "X": "other"}


def reference(resource_type: str, pk, display: str | None = None) -> dict:
    result = {"reference": f"{resource_type}/{pk}"}
    if display:
        result["display"] = display
    return result


def _phone(value: str) -> list[dict]:
    return [{"system": "phone", "value": value, "use": "work"}] if value else []


# --- Capacity resources -----------------------------------------------------------------------


def organization(organisation) -> dict:
    hl7_code, hl7_display = HL7_ORGANIZATION_TYPE_BY_KIND[organisation.kind]
    with translation.override("en"):
        kind_display = str(OrganisationKind(organisation.kind).label)
    resource = {
        "resourceType": "Organization",
        "id": str(organisation.pk),
        "active": True,
        "type": [
            {
                "coding": [
                    {"system": codes.HL7_ORGANIZATION_TYPE, "code": hl7_code, "display": hl7_display},
                    codes.coding("organisation-kind", organisation.kind, kind_display),
                ]
            }
        ],
        "name": organisation.name,
    }
    if organisation.agb_code:
        resource["identifier"] = [{"use": "official", "system": codes.AGB_SYSTEM, "value": organisation.agb_code}]
    telecom = _phone(organisation.phone)
    if organisation.email:
        telecom.append({"system": "email", "value": organisation.email, "use": "work"})
    if telecom:
        resource["telecom"] = telecom
    return resource


def operational_status(location) -> dict | None:
    if not location.is_active:
        return {"system": codes.HL7_BED_STATUS, "code": "C", "display": "Closed"}
    capacities = list(location.capacities.all())
    if not capacities:
        return None
    if any(capacity.free > 0 for capacity in capacities):
        return {"system": codes.HL7_BED_STATUS, "code": "U", "display": "Unoccupied"}
    return {"system": codes.HL7_BED_STATUS, "code": "O", "display": "Occupied"}


def location(loc) -> dict:
    resource = {
        "resourceType": "Location",
        "id": str(loc.pk),
        "status": "active" if loc.is_active else "inactive",
        "name": loc.name,
        "mode": "instance",
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": "NCCF",
                        "display": "Nursing or custodial care facility",
                    }
                ]
            }
        ],
        "address": {
            "use": "work",
            "type": "physical",
            "line": [loc.street],
            "city": loc.city,
            "postalCode": loc.postcode,
            "country": "NL",
        },
        "physicalType": {"coding": [{"system": codes.HL7_LOCATION_PHYSICAL_TYPE, "code": "bu", "display": "Building"}]},
        "managingOrganization": reference("Organization", loc.organisation_id, loc.organisation.name),
    }
    status = operational_status(loc)
    if status:
        resource["operationalStatus"] = status
    if loc.phone_24_7:
        resource["telecom"] = _phone(loc.phone_24_7)
    if loc.latitude is not None and loc.longitude is not None:
        resource["position"] = {"longitude": round(loc.longitude, 6), "latitude": round(loc.latitude, 6)}
    return resource


def _admission_hours(loc) -> list[dict]:
    if loc.admission_24_7:
        return [{"daysOfWeek": ALL_DAYS, "allDay": True}]
    if loc.admission_from and loc.admission_until:
        return [
            {
                "daysOfWeek": ALL_DAYS,
                "availableStartTime": loc.admission_from.strftime("%H:%M:%S"),
                "availableEndTime": loc.admission_until.strftime("%H:%M:%S"),
            }
        ]
    return []


def healthcare_service(capacity) -> dict:
    loc = capacity.location
    product = capacity.product
    meta = {"versionId": str(capacity.version)}
    last_updated = getattr(capacity, "last_updated", None) or capacity.confirmed_at
    if last_updated:
        meta["lastUpdated"] = instant(last_updated)
    resource = {
        "resourceType": "HealthcareService",
        "id": str(capacity.pk),
        "meta": meta,
        "active": loc.is_active,
        "providedBy": reference("Organization", loc.organisation_id, loc.organisation.name),
        "type": [{"coding": [codes.coding("product", product.code, product.name)]}],
        "location": [reference("Location", loc.pk, loc.name)],
        "name": f"{product.name} · {loc.name}",
    }
    if loc.phone_24_7:
        resource["telecom"] = _phone(loc.phone_24_7)
    features = list(loc.features.all())
    if features:
        resource["characteristic"] = [
            {"coding": [codes.coding("location-feature", feature.code, feature.name)]} for feature in features
        ]
    hours = _admission_hours(loc)
    if hours:
        resource["availableTime"] = hours
    return resource


def measure_report(*, report_id: str, subject: dict, generated_at, period: dict, groups: list[dict]) -> dict:
    """`groups`: [{"product": Product, "counts": {population code: count}}]."""
    resource = {
        "resourceType": "MeasureReport",
        "id": report_id,
        "status": "complete",
        "type": "summary",
        "measure": codes.measure_url(),
        "subject": subject,
        "date": instant(generated_at),
        "period": period,
    }
    displays = {code: display for code, display, _definition in codes.BED_CAPACITY}
    if groups:
        resource["group"] = [
            {
                "code": {"coding": [codes.coding("product", group["product"].code, group["product"].name)]},
                "population": [
                    {"code": {"coding": [codes.coding("bed-capacity", code, displays[code])]}, "count": count}
                    for code, count in group["counts"].items()
                ],
            }
            for group in groups
        ]
    return resource


# --- Referral resources (patient data: only through audited views) ---------------------------


def _criteria(referral) -> list[dict]:
    details = [
        {"coding": [codes.coding("referral-criteria", code, display)]}
        for code, display, _definition in codes.REFERRAL_CRITERIA
        if getattr(referral, codes.CRITERIA_FIELDS[code])
    ]
    details += [
        {"coding": [codes.coding("location-feature", feature.code, feature.name)]}
        for feature in referral.care_needs.all()
    ]
    return details


def _contained_patient(patient) -> dict:
    resource = {"resourceType": "Patient", "id": "patient", "name": [{"text": patient.name}]}
    if patient.bsn:
        resource["identifier"] = [{"use": "official", "system": codes.BSN_SYSTEM, "value": patient.bsn}]
    if patient.sex in GENDER_BY_SEX:
        resource["gender"] = GENDER_BY_SEX[patient.sex]
    if patient.date_of_birth:
        resource["birthDate"] = patient.date_of_birth.isoformat()
    if patient.postcode:
        resource["address"] = [{"use": "home", "postalCode": patient.postcode, "country": "NL"}]
    return resource


def _contained_coverage(insurer) -> dict:
    return {
        "resourceType": "Coverage",
        "id": "coverage",
        "status": "active",
        "beneficiary": {"reference": "#patient"},
        "payor": [{"identifier": {"system": codes.UZOVI_SYSTEM, "value": insurer.uzovi}, "display": insurer.name}],
    }


def client_identifier(referral) -> dict | None:
    """The ServiceRequest.identifier the client sent (kept as the idempotency key)."""
    key = referral.idempotency_key or ""
    if key.startswith("identifier=") and "|" in key:
        system, value = key.removeprefix("identifier=").split("|", 1)
        if value:
            return {"system": system, "value": value} if system else {"value": value}
    return None


def service_request(referral) -> dict:
    patient = referral.patient
    with translation.override("en"):
        origin_display = referral.get_origin_display()
    contained = [_contained_patient(patient)]
    resource = {
        "resourceType": "ServiceRequest",
        "id": str(referral.pk),
        "meta": {"lastUpdated": instant(referral.state_changed_at)},
        "contained": contained,
        "status": SERVICE_REQUEST_STATUS.get(referral.state, "active"),
        "intent": "order",
        "category": [{"coding": [codes.coding("referral-origin", referral.origin, origin_display)]}],
        "priority": PRIORITY_BY_URGENCY[referral.urgency],
        "code": {"coding": [codes.coding("product", referral.product.code, referral.product.name)]},
        "subject": {"reference": "#patient"},
        "authoredOn": instant(referral.created_at),
        "requester": reference("Organization", referral.organisation_id, referral.organisation.name),
        "reasonCode": [{"text": referral.medical_reason}],
    }
    identifier = client_identifier(referral)
    if identifier:
        resource["identifier"] = [identifier]
    details = _criteria(referral)
    if details:
        resource["orderDetail"] = details
    if referral.planned_date:
        resource["occurrenceDateTime"] = referral.planned_date.isoformat()
    if patient.insurer_id:
        contained.append(_contained_coverage(patient.insurer))
        resource["insurance"] = [{"reference": "#coverage"}]
    if referral.carer_contact:
        contained[0]["contact"] = [
            {"relationship": [{"text": "informal carer"}], "name": {"text": referral.carer_contact}}
        ]
    if referral.notes:
        resource["note"] = [{"text": referral.notes}]
    return resource


def _current_offer(referral):
    offers = getattr(referral, "task_offers", None)
    if offers is None:
        offers = [o for o in referral.offers.all() if o.state in (OfferState.OPEN, OfferState.ACCEPTED)]
    accepted = [offer for offer in offers if offer.state == OfferState.ACCEPTED]
    if accepted:
        return accepted[0]
    # Parallel offers: while several providers are asked, none of them owns the task yet.
    return offers[0] if len(offers) == 1 else None


def task(referral) -> dict:
    with translation.override("en"):
        state_display = str(State(referral.state).label)
        reason = referral.close_reason
        if referral.state == State.REDIRECTED and referral.redirect_target:
            reason = f"{RedirectTarget(referral.redirect_target).label}: {reason}"
    resource = {
        "resourceType": "Task",
        "id": str(referral.pk),
        "meta": {"lastUpdated": instant(referral.state_changed_at)},
        "basedOn": [reference("ServiceRequest", referral.pk)],
        "status": TASK_STATUS[referral.state],
        "businessStatus": {"coding": [codes.coding("referral-state", referral.state, state_display)]},
        "intent": "order",
        "priority": PRIORITY_BY_URGENCY[referral.urgency],
        "code": {
            "coding": [{"system": codes.HL7_TASK_CODE, "code": "fulfill", "display": "Fulfill the focal request"}]
        },
        "focus": reference("ServiceRequest", referral.pk),
        "authoredOn": instant(referral.created_at),
        "lastModified": instant(referral.state_changed_at),
        "requester": reference("Organization", referral.organisation_id, referral.organisation.name),
    }
    if reason:
        resource["statusReason"] = {"text": reason}
    offer = _current_offer(referral)
    if offer is not None:
        organisation = offer.location.organisation
        resource["owner"] = reference("Organization", organisation.pk, organisation.name)
        if offer.state == OfferState.ACCEPTED:
            with translation.override("en"):
                display = codes.TASK_OUTPUT[0][1]
            resource["output"] = [
                {
                    "type": {"coding": [codes.coding("task-output", "admission-location", display)]},
                    "valueReference": reference("Location", offer.location_id, offer.location.name),
                }
            ]
    return resource

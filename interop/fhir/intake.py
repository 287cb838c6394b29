"""A FHIR transaction Bundle (ServiceRequest + Patient + Coverage) as the referral input of the
form and the REST API, with the FHIRPath of each field so that errors point into the Bundle."""

import hashlib
from dataclasses import dataclass, field

from django.http import QueryDict
from django.utils.translation import gettext as _

from elvdesk.json_parsing import unstorable
from interop.fhir import codes
from interop.fhir.protocol import FhirError, invalid, issue

SEX_BY_GENDER = {"female": "F", "male": "M", "other": "X", "unknown": "X"}
URGENCY_BY_PRIORITY = {"stat": "today", "asap": "within_24h", "urgent": "within_24h", "routine": "planned"}
INTENTS = {"order", "original-order", "proposal"}
MAX_KEY_LENGTH = 100  # Referral.idempotency_key


@dataclass
class Intake:
    data: dict = field(default_factory=dict)
    expressions: dict[str, str] = field(default_factory=dict)
    identifier_key: str | None = None
    problems: list[dict] = field(default_factory=list)

    def put(self, name: str, value, expression: str) -> None:
        if value is not None:
            self.data[name] = value
        self.expressions[name] = expression

    def problem(self, message: str, expression: str, code: str = "invalid") -> None:
        self.problems.append(issue(code, message, expression=expression))

    def expression(self, name: str) -> str:
        return self.expressions.get(name, "Bundle")


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _codes(concepts, code_system: str, path: str):
    """(code, path) of every coding of `code_system` in a list of CodeableConcepts."""
    wanted = codes.system(code_system)
    for i, concept in enumerate(_list(concepts)):
        for j, coding in enumerate(_list(_dict(concept).get("coding"))):
            coding = _dict(coding)
            if coding.get("system") == wanted and coding.get("code"):
                yield coding["code"], f"{path}[{i}].coding[{j}]"


def _refers_to(ref, entry: dict | None) -> bool:
    if entry is None:
        return False
    target = _dict(ref).get("reference")
    resource = entry["resource"]
    candidates = {entry.get("fullUrl")}
    if resource.get("id"):
        candidates.add(f"{resource['resourceType']}/{resource['id']}")
    return bool(target) and target in candidates


def _entries(body) -> dict[str, dict]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise invalid(
            _("Post a FHIR transaction Bundle with a ServiceRequest, its Patient and the patient's Coverage."),
            expression="Bundle",
            code="structure",
        )
    if body.get("type") != "transaction":
        raise invalid(_("The Bundle must be of type transaction."), expression="Bundle.type")
    found: dict[str, dict] = {}
    for i, entry in enumerate(_list(body.get("entry"))):
        resource = _dict(_dict(entry).get("resource"))
        kind = resource.get("resourceType")
        path = f"Bundle.entry[{i}].resource"
        if kind not in ("ServiceRequest", "Patient", "Coverage"):
            raise invalid(_("Only ServiceRequest, Patient and Coverage belong in this Bundle."), expression=path)
        if kind in found:
            raise invalid(_("The Bundle holds more than one %(kind)s.") % {"kind": kind}, expression=path)
        found[kind] = {"resource": resource, "fullUrl": _dict(entry).get("fullUrl"), "path": path}
    for kind in ("ServiceRequest", "Patient"):
        if kind not in found:
            raise invalid(_("The Bundle has no %(kind)s.") % {"kind": kind}, expression="Bundle.entry")
    return found


def _patient(intake: Intake, entry: dict) -> None:
    patient, path = entry["resource"], entry["path"]
    identifiers = _list(patient.get("identifier"))
    bsn_index = next((i for i, ident in enumerate(identifiers) if _dict(ident).get("system") == codes.BSN_SYSTEM), None)
    if bsn_index is None:
        intake.problem(
            _("The patient needs an identifier with system %(system)s (the BSN).") % {"system": codes.BSN_SYSTEM},
            f"{path}.identifier",
            code="required",
        )
    else:
        intake.put("bsn", _dict(identifiers[bsn_index]).get("value"), f"{path}.identifier[{bsn_index}].value")
    names = _list(patient.get("name"))
    if names:
        name = _dict(names[0])
        text = name.get("text") or " ".join([*_list(name.get("given")), name.get("family") or ""]).strip()
        intake.put("name", text or None, f"{path}.name[0]")
    else:
        intake.put("name", None, f"{path}.name")
    intake.put("date_of_birth", patient.get("birthDate"), f"{path}.birthDate")
    gender = patient.get("gender")
    intake.put("sex", SEX_BY_GENDER.get(gender, gender), f"{path}.gender")
    addresses = _list(patient.get("address"))
    index = next((i for i, a in enumerate(addresses) if _dict(a).get("postalCode")), None)
    if index is None:
        intake.put("postcode", None, f"{path}.address")
    else:
        intake.put("postcode", addresses[index]["postalCode"], f"{path}.address[{index}].postalCode")
    contacts = _list(patient.get("contact"))
    if contacts:
        contact = _dict(contacts[0])
        name = _dict(contact.get("name"))
        who = name.get("text") or " ".join([*_list(name.get("given")), name.get("family") or ""]).strip()
        phones = [_dict(t).get("value") for t in _list(contact.get("telecom")) if _dict(t).get("value")]
        intake.put("carer_contact", ", ".join(part for part in [who, *phones[:1]] if part), f"{path}.contact[0]")


def _coverage(intake: Intake, entry: dict | None, patient: dict) -> None:
    if entry is None:
        intake.put("insurer", None, "Bundle.entry")
        return
    coverage, path = entry["resource"], entry["path"]
    if not _refers_to(coverage.get("beneficiary"), patient):
        intake.problem(_("Coverage.beneficiary must refer to the Patient in this Bundle."), f"{path}.beneficiary")
    payors = _list(coverage.get("payor"))
    for i, payor in enumerate(payors):
        identifier = _dict(_dict(payor).get("identifier"))
        if identifier.get("system") == codes.UZOVI_SYSTEM:
            intake.put("insurer", identifier.get("value"), f"{path}.payor[{i}].identifier.value")
            return
    intake.problem(
        _("Coverage.payor needs an identifier with system %(system)s (the insurer's UZOVI code).")
        % {"system": codes.UZOVI_SYSTEM},
        f"{path}.payor",
        code="required",
    )


def _service_request(intake: Intake, entry: dict, patient: dict) -> None:
    request, path = entry["resource"], entry["path"]
    if request.get("status") != "active":
        intake.problem(_("A new referral has status active."), f"{path}.status")
    if request.get("intent") not in INTENTS:
        intake.problem(_("The intent must be order, original-order or proposal."), f"{path}.intent")
    if not _refers_to(request.get("subject"), patient):
        intake.problem(_("ServiceRequest.subject must refer to the Patient in this Bundle."), f"{path}.subject")
    origins = list(_codes(request.get("category"), "referral-origin", f"{path}.category"))
    intake.put("origin", origins[0][0] if origins else None, origins[0][1] if origins else f"{path}.category")
    products = list(_codes([request.get("code")], "product", f"{path}.code"))
    if products:
        intake.put("product", products[0][0], products[0][1].replace(f"{path}.code[0]", f"{path}.code"))
    else:
        intake.put("product", None, f"{path}.code")
        intake.problem(
            _("ServiceRequest.code needs a coding with system %(system)s (elv_laag, elv_hoog, elv_palliatief …).")
            % {"system": codes.system("product")},
            f"{path}.code",
            code="required",
        )
    priority = request.get("priority")
    intake.put("urgency", URGENCY_BY_PRIORITY.get(priority, priority), f"{path}.priority")
    occurrence = request.get("occurrenceDateTime") or _dict(request.get("occurrencePeriod")).get("start")
    occurrence_path = f"{path}.occurrence"  # FHIRPath of a choice element without its type
    if "occurrenceDateTime" in request:
        occurrence_path = f"{path}.occurrenceDateTime"
    elif "occurrencePeriod" in request:
        occurrence_path = f"{path}.occurrencePeriod.start"
    intake.put("planned_date", occurrence[:10] if isinstance(occurrence, str) else None, occurrence_path)
    details = f"{path}.orderDetail"
    for name in codes.CRITERIA_FIELDS.values():
        intake.put(name, False, details)
    for code, code_path in _codes(request.get("orderDetail"), "referral-criteria", details):
        if code in codes.CRITERIA_FIELDS:
            intake.put(codes.CRITERIA_FIELDS[code], True, details)
        else:
            intake.problem(_("Unknown referral criterion %(code)s.") % {"code": code}, code_path, code="code-invalid")
    intake.put(
        "care_needs", [code for code, _p in _codes(request.get("orderDetail"), "location-feature", details)], details
    )
    reasons = [
        _dict(reason).get("text") or ", ".join(_dict(c).get("display", "") for c in _list(_dict(reason).get("coding")))
        for reason in _list(request.get("reasonCode"))
    ]
    intake.put("medical_reason", "\n".join(r for r in reasons if r) or None, f"{path}.reasonCode")
    notes = [_dict(note).get("text") for note in _list(request.get("note")) if _dict(note).get("text")]
    intake.put("notes", "\n".join(notes), f"{path}.note")
    for identifier in _list(request.get("identifier")):
        identifier = _dict(identifier)
        if identifier.get("value"):
            intake.identifier_key = f"identifier={identifier.get('system', '')}|{identifier['value']}"
            break


def parse_referral_bundle(body) -> Intake:
    """Map the Bundle onto the referral input; structural problems are collected in `problems`
    next to the values, so the client hears about all of them at once."""
    found = _entries(body)
    intake = Intake()
    _patient(intake, found["Patient"])
    _coverage(intake, found.get("Coverage"), found["Patient"])
    _service_request(intake, found["ServiceRequest"], found["Patient"])
    return intake


def _fit(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def idempotency_key(headers, intake: Intake) -> str | None:
    """Idempotency-Key, else If-None-Exist (identifier=system|value only), else the
    ServiceRequest's own identifier: the same request sent twice gives the first referral back."""
    header = (headers.get("Idempotency-Key") or "").strip()
    if header:
        return _fit(header)
    condition = (headers.get("If-None-Exist") or "").strip()
    if condition:
        params = QueryDict(condition)
        if set(params) != {"identifier"} or not params["identifier"]:
            raise FhirError(
                400,
                issue("not-supported", _("If-None-Exist supports only identifier=system|value.")),
            )
        if unstorable(params["identifier"]):  # %00 decodes to a NUL, which the key column cannot hold
            raise FhirError(400, issue("invalid", _("If-None-Exist holds a character that cannot be stored (NUL).")))
        return _fit(f"identifier={params['identifier']}")
    return _fit(intake.identifier_key) if intake.identifier_key else None

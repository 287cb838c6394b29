"""Referral intake over FHIR (a transaction Bundle with ServiceRequest, Patient and Coverage) and
its workflow state as a Task: the same service, rules, visibility and NEN 7513 log as the form."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from audit.models import AccessLog, Channel
from interop.fhir import codes
from referrals import services
from referrals.models import Referral, State
from tests.interop.conftest import FHIR, entries, fhir_body, key_client, outcome, token_client
from tests.referrals.conftest import VALID_BSN

pytestmark = pytest.mark.django_db

PATIENT_URL = "urn:uuid:6a1b7c9e-0000-4000-8000-000000000001"
COVERAGE_URL = "urn:uuid:6a1b7c9e-0000-4000-8000-000000000002"


def referral_bundle(*, bsn: str = VALID_BSN, origin: str = "home", identifier: str | None = None, **sr) -> dict:
    service_request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [codes.coding("referral-origin", origin)]}],
        "priority": "stat",
        "code": {"coding": [codes.coding("product", "elv_hoog")]},
        "orderDetail": [
            {"coding": [codes.coding("referral-criteria", "wakeful-eye")]},
            {"coding": [codes.coding("referral-criteria", "adl-taken-over")]},
            {"coding": [codes.coding("referral-criteria", "patient-consent")]},
            {"coding": [codes.coding("location-feature", "oxygen")]},
        ],
        "subject": {"reference": PATIENT_URL},
        "insurance": [{"reference": COVERAGE_URL}],
        "reasonCode": [{"text": "Gevallen, niet meer mobiel; mantelzorger overbelast."}],
        "note": [{"text": "Sleutelkastje 1234."}],
    }
    if identifier:
        service_request["identifier"] = [{"system": "http://ecd.example/referrals", "value": identifier}]
    service_request.update(sr)
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6a1b7c9e-0000-4000-8000-000000000003",
                "resource": service_request,
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {
                "fullUrl": PATIENT_URL,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": codes.BSN_SYSTEM, "value": bsn}],
                    "name": [{"family": "Jansen", "given": ["Maria"]}],
                    "gender": "female",
                    "birthDate": "1938-04-02",
                    "address": [{"use": "home", "postalCode": "6411 AB"}],
                    "contact": [
                        {"name": {"text": "Jan Jansen"}, "telecom": [{"system": "phone", "value": "06 1234 5678"}]}
                    ],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": COVERAGE_URL,
                "resource": {
                    "resourceType": "Coverage",
                    "status": "active",
                    "beneficiary": {"reference": PATIENT_URL},
                    "payor": [{"identifier": {"system": codes.UZOVI_SYSTEM, "value": "9015"}}],
                },
                "request": {"method": "POST", "url": "Coverage"},
            },
        ],
    }


def post(user, body: dict, **headers):
    return token_client(user).post(
        f"{FHIR}/ServiceRequest", body, format="json", HTTP_CONTENT_TYPE="application/fhir+json", **headers
    )


def post_fhir_json(user, body: dict, **headers):
    import json

    return token_client(user).generic(
        "POST", f"{FHIR}/ServiceRequest", json.dumps(body), content_type="application/fhir+json", **headers
    )


def test_the_bundle_validates_as_fhir():
    from tests.interop.conftest import validate_fhir

    validate_fhir(referral_bundle(identifier="R-1"))


# --- Round trip -------------------------------------------------------------------------------


def test_a_posted_bundle_becomes_a_referral_readable_as_task_service_request_and_api(world):
    gp = world.users[Role.GP]

    response = post_fhir_json(gp, referral_bundle(identifier="R-1"))

    created = fhir_body(response, 201)
    referral = Referral.objects.get()
    assert response["Location"] == f"http://testserver{FHIR}/ServiceRequest/{referral.pk}"
    assert created["id"] == str(referral.pk)
    # The referral in the database, through the same service as the form
    assert (referral.state, referral.referred_by, referral.organisation) == (State.SUBMITTED, gp, gp.organisation)
    assert referral.patient.bsn == VALID_BSN and referral.patient.name == "Maria Jansen"
    assert referral.patient.insurer.uzovi == "9015" and referral.patient.postcode == "6411 AB"
    assert (referral.product.code, referral.origin, referral.urgency) == ("elv_hoog", "home", "today")
    assert referral.wakeful_eye and referral.adl_taken_over and referral.consent and not referral.unplannable_nursing
    assert [f.code for f in referral.care_needs.all()] == ["oxygen"]
    assert referral.carer_contact == "Jan Jansen, 06 1234 5678"
    assert referral.notes == "Sleutelkastje 1234."
    assert referral.events.get().to_state == State.SUBMITTED
    # The normal API shows it
    api = token_client(gp).get(f"/api/v1/referrals/{referral.pk}/").json()
    assert api["state"] == "submitted" and api["patient"]["bsn"] == VALID_BSN
    # The Task
    task = fhir_body(token_client(gp).get(f"{FHIR}/Task/{referral.pk}"))
    assert task["status"] == "requested"
    assert task["businessStatus"]["coding"][0] == codes.coding("referral-state", "submitted", "Submitted")
    assert task["focus"] == {"reference": f"ServiceRequest/{referral.pk}"}
    assert task["requester"]["reference"] == f"Organization/{gp.organisation_id}"
    found = fhir_body(token_client(gp).get(f"{FHIR}/Task", {"focus": f"ServiceRequest/{referral.pk}"}))
    assert [t["id"] for t in entries(found)] == [str(referral.pk)]
    # The ServiceRequest read back
    read = fhir_body(token_client(gp).get(f"{FHIR}/ServiceRequest/{referral.pk}"))
    assert read["identifier"] == [{"system": "http://ecd.example/referrals", "value": "R-1"}]
    patient = next(r for r in read["contained"] if r["resourceType"] == "Patient")
    assert patient["identifier"][0] == {"use": "official", "system": codes.BSN_SYSTEM, "value": VALID_BSN}
    coverage = next(r for r in read["contained"] if r["resourceType"] == "Coverage")
    assert coverage["payor"][0]["identifier"] == {"system": codes.UZOVI_SYSTEM, "value": "9015"}
    assert {d["coding"][0]["code"] for d in read["orderDetail"]} == {
        "wakeful-eye",
        "adl-taken-over",
        "patient-consent",
        "oxygen",
    }
    assert (read["status"], read["priority"]) == ("active", "stat")


def test_a_planned_referral_from_a_transfer_nurse(world):
    nurse = world.users[Role.TRANSFER_NURSE]
    day = (timezone.localdate() + timedelta(days=3)).isoformat()

    fhir_body(post(nurse, referral_bundle(origin="ward", priority="routine", occurrenceDateTime=day)), 201)

    referral = Referral.objects.get()
    assert (referral.origin, referral.urgency, referral.planned_date.isoformat()) == ("ward", "planned", day)


def test_task_status_follows_the_workflow(world):
    gp, desk = world.users[Role.GP], world.users[Role.COORDINATOR]
    fhir_body(post(gp, referral_bundle()), 201)
    referral = Referral.objects.get()
    capacity = world.locations[0].capacities.get(product__code="elv_hoog")
    api = token_client(gp)

    def task():
        return fhir_body(api.get(f"{FHIR}/Task/{referral.pk}"))

    services.referral_step(referral=referral, target=State.SEARCHING, by=desk)
    assert task()["status"] == "in-progress"
    capacity.available = 3
    capacity.save()
    offer = services.offer_create(referral=referral, capacity=capacity, by=desk)
    current = task()
    assert (current["status"], current["businessStatus"]["coding"][0]["code"]) == ("in-progress", "offered")
    assert current["owner"]["reference"] == f"Organization/{world.provider.pk}"
    services.offer_accept(offer=offer, by=world.planner)
    current = task()
    assert current["businessStatus"]["coding"][0]["code"] == "accepted"
    assert current["output"][0]["valueReference"] == {
        "reference": f"Location/{world.locations[0].pk}",
        "display": "De Schacht",
    }
    services.referral_step(referral=referral, target=State.CANCELLED, by=gp, reason="Patiënt toch thuis")
    current = task()
    assert (current["status"], current["statusReason"]["text"]) == ("cancelled", "Patiënt toch thuis")
    assert fhir_body(api.get(f"{FHIR}/ServiceRequest/{referral.pk}"))["status"] == "revoked"
    assert fhir_body(api.get(f"{FHIR}/Task", {"status": "cancelled"}))["total"] == 1
    assert fhir_body(api.get(f"{FHIR}/Task", {"status": "requested"}))["total"] == 0


def test_task_with_parallel_offers_has_no_owner_until_one_provider_accepts(world):
    gp, desk = world.users[Role.GP], world.users[Role.COORDINATOR]
    fhir_body(post(gp, referral_bundle()), 201)
    referral = Referral.objects.get()
    first = world.locations[0].capacities.get(product__code="elv_hoog")
    first.available = 3
    first.save()
    second = world.other_location.capacities.get()
    services.referral_step(referral=referral, target=State.SEARCHING, by=desk)
    services.offer_create(referral=referral, capacity=first, by=desk)
    offer = services.offer_create(referral=referral, capacity=second, by=desk)
    api = token_client(gp)
    current = fhir_body(api.get(f"{FHIR}/Task/{referral.pk}"))
    assert (current["status"], current["businessStatus"]["coding"][0]["code"]) == ("in-progress", "offered")
    assert "owner" not in current

    services.offer_accept(offer=offer, by=world.other_planner)

    current = fhir_body(api.get(f"{FHIR}/Task/{referral.pk}"))
    assert current["businessStatus"]["coding"][0]["code"] == "accepted"
    assert current["owner"]["reference"] == f"Organization/{world.other_provider.pk}"
    assert current["output"][0]["valueReference"]["reference"] == f"Location/{world.other_location.pk}"


# --- Idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_IDEMPOTENCY_KEY": "ecd-42"},
        {"HTTP_IF_NONE_EXIST": "identifier=http://ecd.example/referrals|R-9"},
        {},  # the ServiceRequest's own identifier
    ],
    ids=["idempotency-key", "if-none-exist", "identifier"],
)
def test_sending_the_same_request_again_gives_the_first_referral(world, headers):
    gp = world.users[Role.GP]
    body = referral_bundle(identifier="R-9")

    first = post(gp, body, **headers)
    again = post(gp, body, **headers)

    assert fhir_body(first, 201)["id"] == fhir_body(again, 200)["id"]
    assert again["Location"] == first["Location"]
    assert Referral.objects.count() == 1


def test_if_none_exist_with_another_parameter_is_refused(world):
    response = post(world.users[Role.GP], referral_bundle(), HTTP_IF_NONE_EXIST="name=Jansen")

    outcome(response, 400, "not-supported")
    assert not Referral.objects.exists()


def test_prefer_return_minimal_answers_without_a_body(world):
    response = post(world.users[Role.GP], referral_bundle(), HTTP_PREFER="return=minimal")

    assert response.status_code == 201 and response["Location"].endswith(f"/ServiceRequest/{Referral.objects.get().pk}")
    assert not response.content


# --- The form's rules -------------------------------------------------------------------------


def expressions(body: dict) -> set[str]:
    return {expression for item in body["issue"] for expression in item.get("expression", [])}


def test_an_invalid_bsn_is_a_400_pointing_at_the_identifier(world):
    body = outcome(post(world.users[Role.GP], referral_bundle(bsn="123456789")), 400, "invalid")

    assert expressions(body) == {"Bundle.entry[1].resource.identifier[0].value"}
    assert "BSN" in body["issue"][0]["details"]["text"]
    assert not Referral.objects.exists()


def test_the_rules_of_the_form_apply(world):
    bundle = referral_bundle(origin="ward", orderDetail=[])  # a GP refers from home; no consent

    body = outcome(post(world.users[Role.GP], bundle), 400, "business-rule")

    assert expressions(body) == {
        "Bundle.entry[0].resource.orderDetail",
        "Bundle.entry[0].resource.category[0].coding[0]",
    }


def test_missing_identifiers_and_references_are_named(world):
    bundle = referral_bundle()
    bundle["entry"][1]["resource"]["identifier"] = [{"system": "http://other", "value": "x"}]
    bundle["entry"][2]["resource"]["payor"] = [{"display": "Some insurer"}]
    bundle["entry"][0]["resource"]["subject"] = {"reference": "Patient/elsewhere"}
    bundle["entry"][0]["resource"]["code"] = {"text": "ELV"}

    body = outcome(post(world.users[Role.GP], bundle), 400)

    assert expressions(body) == {
        "Bundle.entry[1].resource.identifier",
        "Bundle.entry[2].resource.payor",
        "Bundle.entry[0].resource.subject",
        "Bundle.entry[0].resource.code",
    }


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda b: b["entry"][1]["resource"].update(birthDate="2999-01-01"), "Bundle.entry[1].resource.birthDate"),
        (lambda b: b["entry"][1]["resource"].update(gender="x"), "Bundle.entry[1].resource.gender"),
        (
            lambda b: b["entry"][1]["resource"]["address"][0].update(postalCode="0000"),
            "Bundle.entry[1].resource.address[0].postalCode",
        ),
        (
            lambda b: b["entry"][2]["resource"]["payor"][0]["identifier"].update(value="0000"),
            "Bundle.entry[2].resource.payor[0].identifier.value",
        ),
        (lambda b: b["entry"][0]["resource"].update(priority="routine"), "Bundle.entry[0].resource.occurrence"),
        (lambda b: b["entry"][0]["resource"].update(status="draft"), "Bundle.entry[0].resource.status"),
        (lambda b: b["entry"][0]["resource"].pop("reasonCode"), "Bundle.entry[0].resource.reasonCode"),
    ],
)
def test_each_wrong_field_is_named_by_its_path(world, change, expression):
    bundle = copy.deepcopy(referral_bundle())
    change(bundle)

    body = outcome(post(world.users[Role.GP], bundle), 400)

    assert expressions(body) == {expression}


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "ServiceRequest", "status": "active"},
        {"resourceType": "Bundle", "type": "batch", "entry": []},
        {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Observation"}}]},
        [],
    ],
)
def test_what_is_not_a_referral_bundle_is_a_400(world, body):
    outcome(post(world.users[Role.GP], body), 400)


def test_malformed_json_is_a_400_outcome(world):
    response = token_client(world.users[Role.GP]).generic(
        "POST", f"{FHIR}/ServiceRequest", "{not json", content_type="application/fhir+json"
    )

    outcome(response, 400, "structure")


def test_a_second_live_referral_for_the_patient_is_a_409(world):
    post(world.users[Role.GP], referral_bundle())

    outcome(post(world.users[Role.TRANSFER_NURSE], referral_bundle(origin="ward")), 409, "conflict")


# --- Who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PROVIDER_STAFF, Role.COORDINATOR, Role.ADMIN, Role.ANALYST])
def test_only_gps_and_transfer_nurses_may_refer(world, role):
    outcome(post(world.users[role], referral_bundle()), 403, "forbidden")
    assert not Referral.objects.exists()


def test_an_api_key_cannot_refer_or_read_referrals(world, api_key):
    _key, full_key = api_key
    client = key_client(full_key)

    response = client.post(f"{FHIR}/ServiceRequest", referral_bundle(), format="json")
    outcome(response, 401, "login")
    assert response["WWW-Authenticate"] == "Token"  # a person's token only
    outcome(client.get(f"{FHIR}/Task"), 401, "login")


def test_another_organisation_cannot_see_the_task_or_service_request(world):
    post(world.users[Role.GP], referral_bundle())
    referral = Referral.objects.get()
    stranger = world.users[Role.TRANSFER_NURSE]

    outcome(token_client(stranger).get(f"{FHIR}/Task/{referral.pk}"), 404, "not-found")
    outcome(token_client(stranger).get(f"{FHIR}/ServiceRequest/{referral.pk}"), 404, "not-found")
    assert fhir_body(token_client(stranger).get(f"{FHIR}/Task"))["total"] == 0
    outcome(token_client(world.users[Role.ANALYST]).get(f"{FHIR}/Task/{referral.pk}"), 403, "forbidden")
    # the desk of the region sees it
    assert fhir_body(token_client(world.users[Role.COORDINATOR]).get(f"{FHIR}/Task/{referral.pk}"))["id"]


# --- NEN 7513 ---------------------------------------------------------------------------------


def test_every_access_is_logged_with_channel_fhir(world):
    gp, stranger = world.users[Role.GP], world.users[Role.TRANSFER_NURSE]
    post(gp, referral_bundle())
    referral = Referral.objects.get()
    token_client(gp).get(f"{FHIR}/Task/{referral.pk}")
    token_client(gp).get(f"{FHIR}/ServiceRequest/{referral.pk}")
    token_client(gp).get(f"{FHIR}/Task", {"focus": f"ServiceRequest/{referral.pk}"})
    token_client(stranger).get(f"{FHIR}/Task/{referral.pk}")

    rows = list(AccessLog.objects.order_by("id").values_list("user_id", "action", "referral_id", "outcome", "channel"))
    assert rows == [
        (gp.pk, "create", referral.pk, "ok", Channel.FHIR),
        (gp.pk, "read", referral.pk, "ok", Channel.FHIR),
        (gp.pk, "read", referral.pk, "ok", Channel.FHIR),
        (gp.pk, "search", referral.pk, "ok", Channel.FHIR),
        (stranger.pk, "read", referral.pk, "not_found", Channel.FHIR),
    ]
    assert all(VALID_BSN not in path for path in AccessLog.objects.values_list("path", flat=True))


def test_task_search_costs_the_same_queries_for_more_referrals(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    desk = world.users[Role.COORDINATOR]
    api = token_client(desk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert api.get(f"{FHIR}/Task").status_code == 200
        return len(context.captured_queries)

    post(world.users[Role.GP], referral_bundle())
    one = queries()
    post(world.users[Role.GP], referral_bundle(bsn="123456782"))
    post(world.users[Role.TRANSFER_NURSE], referral_bundle(bsn="999999011", origin="ward"))
    assert Referral.objects.count() == 3
    assert queries() == one

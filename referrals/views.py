from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import role_required
from accounts.models import Role
from audit.trail import audited
from elvdesk.errors import DomainError
from elvdesk.htmx import wants_fragment
from elvdesk.input_guard import form_reports_nul
from elvdesk.input_limits import BIG_ID
from elvdesk.next_url import local_next_url
from referrals import cross_region, services
from referrals.cross_region import capacity_to_offer
from referrals.decision import Answers, advise
from referrals.forms import (
    AdmitForm,
    DischargeForm,
    NoShowForm,
    OfferAcceptForm,
    OfferDeclineForm,
    OfferSendForm,
    OfferStopForm,
    ProductChangeForm,
    ReferralForm,
    ReferralPrefillForm,
    StepForm,
)
from referrals.matching import explain
from referrals.models import OfferState, ReferralDraft, State
from referrals.offer_reachability import offer_capacities, offer_reachability_check
from referrals.selectors import (
    escalation_list,
    offer_for_host_desk,
    offer_for_provider,
    preferred_location_for,
    referral_for_user,
    referral_list,
    referral_page_for_user,
    stay_for_page,
    stay_product_options,
)
from referrals.suggestions_cache import suggestions_html
from referrals.workflow import STEP_ACTIONS, Action, allowed_actions

REFERRERS = (Role.GP, Role.TRANSFER_NURSE)
CAN_SEE_REFERRALS = (*REFERRERS, Role.PROVIDER_STAFF, Role.COORDINATOR)
DETAIL_TEMPLATE = "referrals/detail.html"
FORM_TEMPLATE = "referrals/new.html"


def _redirect_after_post(request, url: str):
    """htmx gets a client redirect, a plain form post an ordinary one."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _detail_url(referral_id: int) -> str:
    return reverse("referrals:detail", args=[referral_id])


# --- referral form -----------------------------------------------------------------------------


def _latest_draft(user, pk: str | None = None) -> ReferralDraft | None:
    """The draft asked for by id (the "continue that draft" link), else the newest."""
    drafts = ReferralDraft.objects.filter(user=user)
    if pk and pk.isascii() and pk.isdigit() and int(pk) <= BIG_ID:
        chosen = drafts.filter(pk=int(pk)).first()
        if chosen is not None:
            return chosen
    return drafts.first()


def _advice_for(form: ReferralForm):
    """Advice from whatever is ticked so far, even when the form is not valid yet."""
    data = form.data if form.is_bound else form.initial
    answers = Answers(**{name: data.get(name) in (True, "on", "true", "1") for name in Answers.__dataclass_fields__})
    return advise(answers)


def _preferred_for(form: ReferralForm) -> dict | None:
    """The location chosen on the bed overview and the product asked, while that location offers it."""
    data = form.data if form.is_bound else form.initial
    if not data.get("preferred_location"):
        return None
    product = form.fields["product"].queryset.filter(code=str(data.get("product") or "")).first()
    location = preferred_location_for(
        region=form.user.region, location_id=data.get("preferred_location"), product=product
    )
    return {"location": location, "product": product} if location is not None else None


def _render_form(request, form: ReferralForm, *, status: int = 200, **context):
    context = {"form": form, "advice": _advice_for(form), "preferred": _preferred_for(form), **context}
    return render(request, FORM_TEMPLATE, context, status=status)


@form_reports_nul  # ReferralForm shows a NUL as a field error and keeps the rest of what was typed
@login_required
@audited("create", methods=("POST",))
@role_required(*REFERRERS)
@require_http_methods(["GET", "POST"])
def referral_new(request):
    if request.method == "GET":
        draft = _latest_draft(request.user, request.GET.get("draft"))
        if any(name in request.GET for name in ReferralPrefillForm.base_fields):
            # "Refer to this location" on the bed overview starts a fresh form with what the overview
            # knew. An unsent draft is kept and offered, not merged into it: the link may be for
            # another patient, and one form must never mix two patients.
            prefill = ReferralPrefillForm(request.GET, user=request.user)
            form = ReferralForm(initial=prefill.referral_initial(), user=request.user)
            return _render_form(request, form, earlier_draft=draft)
        if draft is not None and "fresh" not in request.GET:
            # Unbound with the draft as initial values: shown as typed, without errors yet.
            form = ReferralForm(initial={**draft.data, "draft_id": draft.pk}, user=request.user)
            return _render_form(request, form, draft=draft)
        if draft is not None:
            draft.delete()
        return _render_form(request, ReferralForm(user=request.user))

    form = ReferralForm(request.POST, user=request.user)
    if request.POST.get("action") == "draft":
        return _save_draft(request, form)
    if not form.is_valid():
        _save_draft(request, form)
        return _render_form(request, form, status=400, draft=_latest_draft(request.user))
    data = form.cleaned_data
    try:
        referral, created = services.referral_submit(
            by=request.user, data=data, idempotency_key=data.get("submit_token"), draft_id=data.get("draft_id")
        )
    except ValidationError as error:
        for field, field_messages in error.message_dict.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
        return _render_form(request, form, status=400)
    except DomainError as error:
        form.add_error(None, error.message)
        return _render_form(request, form, status=409)
    request.audit.add(referral)
    if created:
        messages.success(request, _("Referral #%(number)s submitted.") % {"number": referral.pk})
    return _redirect_after_post(request, _detail_url(referral.pk))


def _save_draft(request, form: ReferralForm):
    """Keep exactly what was typed, valid or not, so nothing is lost."""
    data = {key: values if len(values) > 1 else values[0] for key, values in form.data.lists()}
    data.pop("csrfmiddlewaretoken", None)
    data.pop("action", None)
    draft_id = data.get("draft_id")
    draft = ReferralDraft.objects.filter(pk=draft_id, user=request.user).first() if str(draft_id).isdigit() else None
    if draft is None:
        draft = ReferralDraft.objects.create(user=request.user, data=data)
    else:
        draft.data = data
        draft.save(update_fields=["data", "updated_at"])
    if request.htmx:
        # The draft id goes back into the form (out of band) so the next autosave updates this draft.
        return render(request, f"{FORM_TEMPLATE}#draft-status", {"draft": draft, "draft_oob": True})
    messages.info(request, _("Draft saved."))
    return redirect("referrals:new")


@login_required
@role_required(*REFERRERS)
@require_POST
def referral_advice(request):
    form = ReferralForm(request.POST, user=request.user)
    context = {"advice": _advice_for(form), "preferred": _preferred_for(form), "preferred_oob": True}
    # The note on the preferred location follows the product (out of band): it goes when the
    # product changes to one that location does not offer, as the preference itself does.
    html = render_to_string(f"{FORM_TEMPLATE}#advice", context, request) + render_to_string(
        f"{FORM_TEMPLATE}#preferred-location", context, request
    )
    return HttpResponse(html)


# --- lists and detail --------------------------------------------------------------------------


@login_required
@audited("search")
@role_required(*CAN_SEE_REFERRALS)
@require_GET
def referral_index(request):
    role = request.user.role
    show_all = request.GET.get("all") == "1"
    state = request.GET.get("state") if request.GET.get("state") in State.values else None
    referrals = list(referral_list(request.user, open_only=not show_all, state=state)[:200])
    request.audit.add(*referrals)
    titles = {
        Role.GP: _("My referrals"),
        Role.TRANSFER_NURSE: _("My referrals"),
        Role.PROVIDER_STAFF: _("Referrals for us"),
        Role.COORDINATOR: _("All open referrals"),
    }
    context = {
        "referrals": referrals,
        "title": titles[role],
        "show_all": show_all,
        "state": state,
        "states": State.choices,
    }
    template = "referrals/index.html#list" if wants_fragment(request) else "referrals/index.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _detail_context(request, referral, forms: dict | None = None) -> dict:
    user = request.user
    forms = forms or {}
    offers = referral.page_offers
    own_offer = next(
        (
            offer
            for offer in offers
            if offer.location.organisation_id == user.organisation_id
            and offer.state in (OfferState.OPEN, OfferState.ACCEPTED)
        ),
        None,
    )
    is_provider = user.role == Role.PROVIDER_STAFF
    own_open = own_offer is not None and own_offer.state == OfferState.OPEN
    own_booking = own_offer is not None and own_offer.state == OfferState.ACCEPTED
    # The workflow table decides by state and role; beyond it a provider acts only on its own
    # offer or booking, and referrers send offers only in self-service hours (offer_create).
    open_offers = sum(1 for offer in offers if offer.state == OfferState.OPEN)
    in_reach = {
        # Parallel offers: up to the region's limit at once (services.offer_create).
        Action.SEND_OFFER: (user.role == Role.COORDINATOR or referral.region.self_service_allowed(timezone.now()))
        and open_offers < referral.region.max_parallel_offers,
        Action.ACCEPT_OFFER: own_open,
        Action.DECLINE_OFFER: own_open,
        Action.ADMIT: own_booking,
        Action.DISCHARGE: own_booking,
        Action.NO_SHOW: own_booking or not is_provider,
    }
    actions = {action for action in allowed_actions(state=referral.state, role=user.role) if in_reach.get(action, True)}
    # The desk of a neighbouring region sees a referral with a bed here only to stop that offer or
    # booking (cross_region.py); the referral's own desk does everything else.
    host_desk = cross_region.is_host_desk(user, referral)
    hosted_offer = None
    if host_desk:
        hosted_offer = next(
            (
                offer
                for offer in offers
                if offer.location.organisation.region_id == user.organisation.region_id
                and offer.state in (OfferState.OPEN, OfferState.ACCEPTED)
            ),
            None,
        )
        stoppable = hosted_offer is not None and referral.state in (State.OFFERED, State.ACCEPTED)
        actions = {Action.STOP_OFFER} if stoppable else set()
    else:
        actions.discard(Action.STOP_OFFER)
    may_offer = Action.SEND_OFFER in actions
    may_answer = Action.ACCEPT_OFFER in actions
    stay = stay_for_page(referral)
    events = referral.events.all()
    # Only the forms of the steps this user can take now are built (None hides their section).
    this_minute = timezone.localtime().replace(second=0, microsecond=0)
    return {
        "referral": referral,
        "offers": offers,
        "events": events,
        "timeline": _timeline(events, stay.product_changes.all() if stay else []),
        "own_offer": own_offer,
        "actions": actions,
        "step_form": (forms.get("step") or StepForm()) if actions & STEP_ACTIONS else None,
        "accept_form": (forms.get("accept") or OfferAcceptForm(initial={"admission_at": this_minute}))
        if may_answer
        else None,
        "decline_form": (forms.get("decline") or OfferDeclineForm()) if Action.DECLINE_OFFER in actions else None,
        "admit_form": (forms.get("admit") or AdmitForm(initial={"admitted_at": this_minute}))
        if Action.ADMIT in actions
        else None,
        "no_show_form": (forms.get("no_show") or NoShowForm()) if Action.NO_SHOW in actions else None,
        "discharge_form": (forms.get("discharge") or DischargeForm(initial={"discharged_at": this_minute}))
        if Action.DISCHARGE in actions
        else None,
        "suggestions_html": suggestions_html(request, referral=referral) if may_offer else "",
        "open_offers": open_offers,
        "may_offer": may_offer,
        "stay": stay,
        "product_change_form": None
        if host_desk
        else _product_change_form(forms.get("product_change"), user, referral, stay, own_booking),
        "hosted_offer": hosted_offer if Action.STOP_OFFER in actions else None,
        "stop_form": (forms.get("stop") or OfferStopForm()) if Action.STOP_OFFER in actions else None,
        "may_look_next_door": may_offer and user.role == Role.COORDINATOR and referral.state == State.SEARCHING,
        "escalations": referral.page_escalations,
    }


def _timeline(events, product_changes) -> list[tuple]:
    """The state changes and the stay's product changes (which change no state) in one list,
    oldest first, as (moment, event or None, product change or None)."""
    entries = [(event.at, event, None) for event in events]
    entries += [(change.changed_at, None, change) for change in product_changes]
    return sorted(entries, key=lambda entry: entry[0])


def _product_change_form(form, user, referral, stay, own_booking: bool) -> ProductChangeForm | None:
    """The op-/afschaling form for the planner of the provider where the patient lies and for the
    desk, while admitted and when the location has another product; None hides it."""
    if referral.state != State.ADMITTED or stay is None or stay.discharged_at is not None:
        return None
    if not (own_booking or user.role == Role.COORDINATOR):
        return None
    options = stay_product_options(stay)
    if form is None:
        if not options:
            return None
        form = ProductChangeForm()
    form.fields["product"].queryset = options  # a refused post is shown with the same short list
    return form


@login_required
@audited("read")
@role_required(*CAN_SEE_REFERRALS)
@require_GET
def referral_detail(request, pk: int):
    referral = referral_page_for_user(request.user, pk)
    request.audit.add(referral)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, referral))


def _act(request, referral, action, *, form_key: str | None = None, form=None, success: str):
    """Run a service call; on a refused step show the page again with the message and what
    the user typed, otherwise redirect back to the referral."""
    request.audit.add(referral)
    try:
        action()
    except ValidationError as error:
        if form is not None:
            for field, field_messages in error.message_dict.items():
                for message in field_messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.error(request, " ".join(error.messages))
        return _render_refused(request, referral, form_key, form)
    except DomainError as error:
        # A message, not a form error: after a conflict the form is often no longer shown
        # (an answered offer has no answer form), and the user must still read why.
        messages.error(request, error.message)
        return _render_refused(request, referral, form_key, form, status=error.http_status)
    messages.success(request, success)
    return _redirect_after_post(request, local_next_url(request) or _detail_url(referral.pk))


def _render_refused(request, referral, form_key, form, status: int = 400):
    referral = referral_page_for_user(request.user, referral.pk)
    if (referral.pk, referral.patient_id) not in request.audit.subjects:
        request.audit.add(referral)
    forms = {form_key: form} if form_key else {}
    return render(request, DETAIL_TEMPLATE, _detail_context(request, referral, forms), status=status)


@login_required
@audited("update")
@role_required(Role.COORDINATOR, *REFERRERS)
@require_POST
def referral_step(request, pk: int):
    referral = referral_for_user(request.user, pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "step", form)
    data = form.cleaned_data
    return _act(
        request,
        referral,
        lambda: services.referral_step(
            referral=referral,
            target=data["target"],
            by=request.user,
            reason=data["reason"],
            redirect_target=data["redirect_target"],
        ),
        form_key="step",
        form=form,
        success=_("Referral is now: %(state)s.") % {"state": State(data["target"]).label},
    )


@login_required
@audited("update")
@role_required(Role.COORDINATOR, *REFERRERS)
@require_POST
def offer_send(request, pk: int):
    referral = referral_for_user(request.user, pk)
    form = OfferSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a location."))
        return _render_refused(request, referral, None, None)
    capacity = capacity_to_offer(offer_capacities(), pk=form.cleaned_data["capacity"], referral=referral)

    def send():
        # Before the service: a refused offer holds no bed.
        offer_reachability_check(capacity=capacity, confirmed=form.cleaned_data["confirm_unreachable"])
        services.offer_create(referral=referral, capacity=capacity, by=request.user)

    return _act(
        request,
        referral,
        send,
        success=_("Offer sent to %(location)s. The bed is held for %(minutes)s minutes.")
        % {"location": capacity.location, "minutes": referral.region.offer_expiry_minutes},
    )


@login_required
@audited("read")
@role_required(Role.COORDINATOR)
@require_GET
def neighbour_beds(request, pk: int):
    """The beds of neighbouring regions that share their counts and fit, for the referral's own
    desk (cross_region.py): shown only while no bed of the own region fits."""
    referral = referral_for_user(request.user, pk)
    if cross_region.is_host_desk(request.user, referral):
        raise Http404
    now = timezone.now()
    own_fits = cross_region.own_region_fits(referral, now=now)
    suggestions = [] if own_fits else cross_region.neighbour_suggestions(referral, now=now)
    may_offer = referral.state in (State.SEARCHING, State.OFFERED)
    return render(
        request,
        "referrals/neighbour_beds.html",
        {
            "referral": referral,
            "own_fits": own_fits,
            "may_offer": may_offer,
            "suggestions": explain(suggestions, referral=referral, now=now),
            "neighbours": list(cross_region.sharing_neighbours(referral.region)),
        },
    )


@login_required
@audited("update", referral_kwarg=None, offer_kwarg="pk")
@role_required(Role.COORDINATOR)
@require_POST
def offer_stop(request, pk: int):
    offer = offer_for_host_desk(request.user, pk)
    referral = referral_for_user(request.user, offer.referral_id)
    form = OfferStopForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "stop", form)
    return _act(
        request,
        referral,
        lambda: services.offer_stop(offer=offer, by=request.user, reason=form.cleaned_data["reason"]),
        form_key="stop",
        form=form,
        success=_("Stopped: the bed at %(location)s is free again and the referral's own desk has been told.")
        % {"location": offer.location.name},
    )


@login_required
@audited("update", referral_kwarg=None, offer_kwarg="pk")
@role_required(Role.PROVIDER_STAFF)
@require_POST
def offer_accept(request, pk: int):
    offer = offer_for_provider(request.user, pk)
    referral = referral_for_user(request.user, offer.referral_id)
    form = OfferAcceptForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "accept", form)
    return _act(
        request,
        referral,
        lambda: services.offer_accept(offer=offer, by=request.user, admission_at=form.cleaned_data["admission_at"]),
        form_key="accept",
        form=form,
        success=_("Offer accepted; the bed is booked."),
    )


@login_required
@audited("update", referral_kwarg=None, offer_kwarg="pk")
@role_required(Role.PROVIDER_STAFF)
@require_POST
def offer_decline(request, pk: int):
    offer = offer_for_provider(request.user, pk)
    referral = referral_for_user(request.user, offer.referral_id)
    form = OfferDeclineForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "decline", form)
    return _act(
        request,
        referral,
        lambda: services.offer_decline(
            offer=offer, by=request.user, reason=form.cleaned_data["reason"], text=form.cleaned_data["text"]
        ),
        form_key="decline",
        form=form,
        success=_("Offer declined; the desk searches further."),
    )


@login_required
@audited("update")
@role_required(Role.PROVIDER_STAFF)
@require_POST
def stay_admit(request, pk: int):
    referral = referral_for_user(request.user, pk)
    _require_own_booking(request.user, referral)
    form = AdmitForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "admit", form)
    return _act(
        request,
        referral,
        lambda: services.stay_admit(referral=referral, by=request.user, admitted_at=form.cleaned_data["admitted_at"]),
        form_key="admit",
        form=form,
        success=_("Admission recorded."),
    )


@login_required
@audited("update")
@role_required(Role.PROVIDER_STAFF, Role.COORDINATOR)
@require_POST
def offer_no_show(request, pk: int):
    referral = referral_for_user(request.user, pk)
    if request.user.role == Role.PROVIDER_STAFF:
        _require_own_booking(request.user, referral)
    form = NoShowForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "no_show", form)
    return _act(
        request,
        referral,
        lambda: services.offer_no_show(referral=referral, by=request.user, reason=form.cleaned_data["reason"]),
        form_key="no_show",
        form=form,
        success=_("Recorded that the patient did not arrive; the bed is free again."),
    )


@login_required
@audited("update")
@role_required(Role.PROVIDER_STAFF)
@require_POST
def stay_discharge(request, pk: int):
    referral = referral_for_user(request.user, pk)
    _require_own_booking(request.user, referral)
    form = DischargeForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "discharge", form)
    return _act(
        request,
        referral,
        lambda: services.stay_discharge(
            referral=referral,
            by=request.user,
            discharged_at=form.cleaned_data["discharged_at"],
            destination=form.cleaned_data["destination"],
        ),
        form_key="discharge",
        form=form,
        success=_("Discharge recorded; the bed is free again."),
    )


@login_required
@audited("update")
@role_required(Role.PROVIDER_STAFF, Role.COORDINATOR)
@require_POST
def stay_product_change(request, pk: int):
    """Op- of afschaling: the admitted patient's product changes at the same location."""
    referral = referral_for_user(request.user, pk)
    if request.user.role == Role.PROVIDER_STAFF:
        _require_own_booking(request.user, referral)
    form = ProductChangeForm(request.POST)
    if not form.is_valid():
        return _render_refused(request, referral, "product_change", form)
    product = form.cleaned_data["product"]
    return _act(
        request,
        referral,
        lambda: services.stay_product_change(
            referral=referral, product=product, by=request.user, reason=form.cleaned_data["reason"]
        ),
        form_key="product_change",
        form=form,
        success=_("Product changed to %(product)s.") % {"product": product.name},
    )


def _require_own_booking(user, referral) -> None:
    """Only the provider whose location took the patient records admission and discharge."""
    get_object_or_404(
        referral.offers.model,
        referral=referral,
        state=OfferState.ACCEPTED,
        location__organisation_id=user.organisation_id,
    )


@login_required
@audited("read", referral_kwarg=None)
@role_required(Role.COORDINATOR)
@require_GET
def escalation_index(request):
    """ "Escalaties": what in the region needs the desk now (open), or also what was resolved."""
    show_resolved = request.GET.get("resolved") == "1"
    escalations = list(escalation_list(request.user, open_only=not show_resolved)[:200])
    request.audit.add(*{escalation.referral_id: escalation.referral for escalation in escalations}.values())
    return render(request, "referrals/escalations.html", {"escalations": escalations, "show_resolved": show_resolved})


@login_required
@require_GET
def notification_list(request):
    notifications = request.user.notifications.select_related("referral")[:50]
    response = render(request, "referrals/notifications.html", {"notifications": notifications})
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return response

"""Decision support after the LHV afwegingsinstrument (docs/architecture.md §2.4). Advice, never a gate."""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Answers:
    needs_hospital_care: bool = False
    wlz_indication: bool = False
    life_expectancy_short: bool = False
    carer_relief_only: bool = False
    trainable_after_hospital: bool = False
    needs_elderly_care_specialist: bool = False
    wakeful_eye: bool = False
    unplannable_nursing: bool = False
    adl_taken_over: bool = False


@dataclass(frozen=True)
class Advice:
    """`product` is a product code when the advice is a kind of bed; `redirect` names another
    route (hospital, wlz_crisis, respijtzorg, grz) when the advice is not ELV."""

    product: str | None
    redirect: str | None
    summary: str
    reasons: list[str] = field(default_factory=list)


def advise(answers: Answers) -> Advice:
    """Walk the questions in the instrument's order; the first that applies decides."""
    if answers.needs_hospital_care:
        return Advice(
            None,
            "hospital",
            _("Advice: hospital admission"),
            [_("The patient needs medical-specialist care, which ELV does not provide.")],
        )
    if answers.wlz_indication:
        return Advice(
            "wlz_crisis",
            "wlz_crisis",
            _("Advice: Wlz crisis bed or logeeropvang"),
            [_("With a Wlz indication, short stay is paid from the Wlz, not as ELV.")],
        )
    if answers.life_expectancy_short:
        return Advice(
            "elv_palliatief",
            None,
            _("Advice: ELV palliatief"),
            [_("Life expectancy of about three months or less: palliative terminal care.")],
        )
    if answers.carer_relief_only:
        return Advice(
            "respijtzorg",
            "respijtzorg",
            _("Advice: respite care (Wmo)"),
            [_("Medically stable and the need is relief of the informal carer: the municipality (Wmo) arranges this.")],
        )
    if answers.trainable_after_hospital:
        return Advice(
            "grz",
            "grz",
            _("Advice: geriatric rehabilitation (GRZ)"),
            [_("Learnable and trainable within a week of a hospital stay: GRZ aims at going home.")],
        )
    reasons = []
    lhv = [answers.wakeful_eye, answers.unplannable_nursing, answers.adl_taken_over]
    if any(lhv):
        reasons.append(_("Care at home is not possible: supervision, unplannable care or ADL is needed."))
    else:
        reasons.append(
            _("None of the LHV criteria is ticked; check whether care at home with district nursing is possible.")
        )
    if answers.needs_elderly_care_specialist:
        reasons.append(_("Complex care that needs a specialist ouderengeneeskunde: ELV hoog complex."))
        return Advice("elv_hoog", None, _("Advice: ELV hoog complex"), reasons)
    reasons.append(_("The GP stays the treating physician: ELV laag complex."))
    return Advice("elv_laag", None, _("Advice: ELV laag complex"), reasons)

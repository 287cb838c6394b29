import pytest

from referrals.decision import Answers, advise


@pytest.mark.parametrize(
    ("answers", "product", "redirect"),
    [
        (Answers(needs_hospital_care=True, life_expectancy_short=True), None, "hospital"),
        (Answers(wlz_indication=True, life_expectancy_short=True), "wlz_crisis", "wlz_crisis"),
        (Answers(life_expectancy_short=True, needs_elderly_care_specialist=True), "elv_palliatief", None),
        (Answers(carer_relief_only=True), "respijtzorg", "respijtzorg"),
        (Answers(trainable_after_hospital=True), "grz", "grz"),
        (Answers(wakeful_eye=True, needs_elderly_care_specialist=True), "elv_hoog", None),
        (Answers(wakeful_eye=True), "elv_laag", None),
    ],
)
def test_the_first_rule_of_the_instrument_that_applies_decides(answers, product, redirect):
    advice = advise(answers)
    assert (advice.product, advice.redirect) == (product, redirect)
    assert advice.summary and advice.reasons


def test_without_any_lhv_criterion_the_advice_says_to_check_care_at_home():
    advice = advise(Answers())
    assert advice.product == "elv_laag"
    assert any("LHV" in reason for reason in advice.reasons)

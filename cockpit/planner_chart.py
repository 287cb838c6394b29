"""The planner's chart: chance of no free bed against the number of beds, as server-rendered SVG
in the manner of cockpit/charts.py (Python works out coordinates, the template draws them), with
two marks: today's beds (a vertical line) and the target (a horizontal line). The table beside it
has the same figures."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from cockpit.charts import WIDTH, LineChart, Point, Series, Tick, _label, nice_ceiling
from elvdesk.numbers import format_percentage


@dataclass
class CurveChart(LineChart):
    current_x: float | None = None
    target_y: float = 0.0
    target_label: str = ""
    kind: str = "curve"


def curve_chart(*, chart_id: str, title: str, row, target: float) -> CurveChart:
    """`row` is a cockpit.planner.PlanRow; probabilities drawn as percentages."""
    height, left, right, top, bottom = 260, 52, 16, 14, 40
    chart = CurveChart(chart_id, title, "", WIDTH, height, left, WIDTH - right, top, height - bottom)
    points = row.curve
    values = [p.probability * 100 for p in points]
    top_value = nice_ceiling(max([*values, target * 100], default=0))
    low, high = points[0].beds, points[-1].beds
    step_x = (chart.right - chart.left) / max(high - low, 1)

    def x_of(beds: int) -> float:
        return chart.left + (beds - low) * step_x

    def y_of(value: float) -> float:
        return chart.bottom - (chart.bottom - chart.top) * (value / top_value)

    for i in range(5):
        value = top_value * i / 4
        chart.y_ticks.append(Tick(y_of(value), f"{_label(value)} %"))
    every = max(1, -(-(high - low + 1) // 10))
    shown = list(range(low, high + 1, every))
    if high - shown[-1] >= every / 2:
        shown.append(high)  # the last number too, when it does not crowd the one before
    for beds in shown:
        chart.x_ticks.append(Tick(x_of(beds), str(beds), "end" if beds == high and high > low else "middle"))
    chart.series.append(
        Series(
            _("Chance of no free bed"),
            0,
            [
                Point(x_of(p.beds), y_of(v), f"{p.beds}: {format_percentage(p.probability, 2)}")
                for p, v in zip(points, values, strict=True)
            ],
            "",
        )
    )
    if low <= row.beds_today <= high:
        chart.current_x = x_of(row.beds_today)
    chart.target_y = y_of(target * 100)
    chart.target_label = _("target %(target)s") % {"target": format_percentage(target, 1)}
    chart.description = _(
        "Line chart of the chance that an arriving patient finds no free bed, from %(low)s to %(high)s beds; "
        "a vertical line marks today's %(beds)s beds, a horizontal line the target of %(target)s."
    ) % {"low": low, "high": high, "beds": row.beds_today, "target": format_percentage(target, 1)}
    return chart

"""Chart geometry for server-rendered SVG (templates/cockpit/includes/*_chart.html).

No JavaScript and no third-party code: Python works out coordinates, the template draws them.
Colours come from CSS classes (series-0 …) and every series also has its own dash pattern and
marker shape, so colour is never the only way to tell lines apart. Every chart is followed on
the page by the table it is drawn from.
"""

import math
from dataclasses import dataclass, field

from django.utils.html import format_html_join

from elvdesk.numbers import format_number

WIDTH = 720
LABEL_CHARS = 44
DASHES = ["", "6 4", "2 3", "10 3 2 3", "1 4"]


def nice_ceiling(value: float, ticks: int = 4) -> float:
    """A top for the y axis: `ticks` equal whole steps (1, 2, 2.5 … 10 × 10^n) covering `value`."""
    raw = max(value, ticks) / ticks
    exponent = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 3, 4, 5, 6, 8, 10):
        size = step * exponent
        if raw <= size and (size >= 1 and float(size).is_integer()):
            return size * ticks
    return 10 * exponent * ticks


def _label(value: float) -> str:
    return format_number(value, 0 if float(value).is_integer() else 1)


@dataclass
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass
class Point:
    x: float
    y: float
    label: str


@dataclass
class Series:
    name: str
    index: int
    points: list[Point]
    dash: str

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def css(self) -> str:
        return f"series-{self.index % 6}"

    @property
    def circles(self) -> str:
        """One marker per point with its figure as a tooltip, built here rather than in a template
        loop: three years of days are over a thousand points per series (make bench, KPI page)."""
        return format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3"><title>{} · {}</title></circle>',
            ((f"{p.x:.1f}", f"{p.y:.1f}", self.name, p.label) for p in self.points),
        )


@dataclass
class LineChart:
    chart_id: str
    title: str
    description: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[Series] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    kind: str = "line"


def line_chart(
    *, chart_id: str, title: str, description: str, x_labels: list[str], series: list[tuple[str, list]]
) -> LineChart:
    """`series` is [(name, values)], each value list as long as `x_labels` (None = no point)."""
    height, left, right, top, bottom = 260, 52, 16, 14, 40
    chart = LineChart(chart_id, title, description, WIDTH, height, left, WIDTH - right, top, height - bottom)
    values = [v for _, vs in series for v in vs if v is not None]
    top_value = nice_ceiling(max(values, default=0))
    count = max(len(x_labels), 1)
    step_x = (chart.right - chart.left) / max(count - 1, 1)

    def y_of(value: float) -> float:
        return chart.bottom - (chart.bottom - chart.top) * (value / top_value)

    for i in range(5):
        value = top_value * i / 4
        chart.y_ticks.append(Tick(y_of(value), _label(value)))
    every = max(1, math.ceil(count / 8))
    shown = [i for i in range(count) if i % every == 0]
    if shown and count - 1 - shown[-1] >= every / 2:
        shown.append(count - 1)  # the last day too, when it does not crowd the one before
    for i in shown:
        if i < len(x_labels):
            anchor = "end" if i == count - 1 and count > 1 else "middle"
            chart.x_ticks.append(Tick(chart.left + i * step_x, x_labels[i], anchor))
    for index, (name, vs) in enumerate(series):
        points = [
            Point(chart.left + i * step_x, y_of(v), f"{x_labels[i]}: {_label(v)}")
            for i, v in enumerate(vs)
            if v is not None
        ]
        chart.series.append(Series(name, index, points, DASHES[index % len(DASHES)]))
    return chart


@dataclass
class Bar:
    label: str
    value: float
    value_label: str
    y: float
    width: float
    text_y: float
    value_x: float

    @property
    def short_label(self) -> str:
        return self.label if len(self.label) <= LABEL_CHARS else self.label[: LABEL_CHARS - 1] + "…"


@dataclass
class BarChart:
    chart_id: str
    title: str
    description: str
    width: int
    height: int
    left: int
    right: int
    bar_height: int
    bars: list[Bar] = field(default_factory=list)
    kind: str = "bar"


def bar_chart(*, chart_id: str, title: str, description: str, items: list[tuple[str, float, str]]) -> BarChart:
    """Horizontal bars: `items` is [(label, value, value as text)]; labels on the left."""
    row, left, right = 30, 300, WIDTH - 90
    chart = BarChart(chart_id, title, description, WIDTH, max(len(items), 1) * row + 10, left, right, row - 10)
    top_value = max((value for _, value, _ in items), default=0) or 1
    for i, (label, value, value_label) in enumerate(items):
        y = 5 + i * row
        width = (right - left) * value / top_value
        chart.bars.append(Bar(str(label), value, value_label, y, width, y + (row - 10) / 2 + 4, left + width + 6))
    return chart

"""Bar charts drawn on the server as SVG: the dashboard needs no script and works offline."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, GAP = 600, 160, 2


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal | int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """One bar per label, scaled to the largest value; the template draws it (bar_chart.html)."""

    title: str
    bars: list[Bar]
    largest: Decimal | int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def first_label(self) -> str:
        return self.bars[0].label if self.bars else ""

    @property
    def last_label(self) -> str:
        return self.bars[-1].label if self.bars else ""


def bar_chart(title: str, points: Sequence[tuple[str, Decimal | int]]) -> BarChart:
    largest = max((value for _, value in points), default=0)
    slot = WIDTH / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        height = float(value) / float(largest) * HEIGHT if largest else 0.0
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(index * slot + GAP / 2, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(slot - GAP, 1), 2),
                height=round(height, 2),
            )
        )
    return BarChart(title=title, bars=bars, largest=largest)

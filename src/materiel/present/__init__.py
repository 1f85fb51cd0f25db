"""Layer 5 — presentation: text summaries, charts, HTML reports and exports.

Registers the presenting accessors on :class:`materiel.analysis.result.Result`
(``result.plot`` and the notebook HTML) so that the analysis layer never
imports this one. Plotly is imported only when a chart is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from materiel.analysis.result import Result, register_accessor

if TYPE_CHECKING:
    from materiel.present.charts import ResultPlot

__all__: list[str] = []


@register_accessor("plot")
def _plot(result: Result) -> ResultPlot:
    """Charts of this result as Plotly figures: ``result.plot.stocks()``,
    ``.capacity(product)``, ``.deliveries()``, ``.recipients()``, ``.spending()``,
    ``.time_to_target()``."""
    from materiel.present.charts import ResultPlot

    return ResultPlot(result)


@register_accessor("_repr_html_")
def _html(result: Result) -> Callable[[], str]:
    """Compact HTML for notebooks: the headline findings and the targets table."""
    from materiel.present.report import result_html

    return lambda: result_html(result)

"""Chart figures as plotly.js figure JSON, drawn in the browser by the plotly.js that the plotly wheel ships.

A figure is a plain dict `{"data": [traces], "layout": {...}}` handed to the page with `json_script`;
static/js/charts.js draws every one it finds, and each page also shows the same numbers in a table, so nothing is
lost without JavaScript. The dicts are written out by hand rather than built with plotly's graph objects, whose
validation cost far more than the queries of the pages that show them; tests/web/test_charts.py checks them
against what plotly's graph objects produce.
"""

import copy
from datetime import date

from evaluations.models import Metric

LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 13},
    "legend": {"orientation": "h", "y": -0.15},
    "hovermode": "closest",
}

# The part of plotly's default ("plotly") template that these charts show: trace colours, text colour, axis
# lines and grid, title position. Without it plotly.js draws with its own, different defaults. The whole template
# is some 7 kB per chart, mostly for trace types and subplots we never draw.
_AXIS = {
    "automargin": True,
    "gridcolor": "white",
    "linecolor": "white",
    "ticks": "",
    "title": {"standoff": 15},
    "zerolinecolor": "white",
    "zerolinewidth": 2,
}
THEME = {
    "data": {
        "bar": [{"type": "bar", "marker": {"line": {"color": "#E5ECF6", "width": 0.5}}}],
        "heatmap": [{"type": "heatmap", "colorbar": {"outlinewidth": 0, "ticks": ""}}],
    },
    "layout": {
        "autotypenumbers": "strict",
        "colorway": [
            "#636efa",
            "#EF553B",
            "#00cc96",
            "#ab63fa",
            "#FFA15A",
            "#19d3f3",
            "#FF6692",
            "#B6E880",
            "#FF97FF",
            "#FECB52",
        ],
        "font": {"color": "#2a3f5f"},
        "hoverlabel": {"align": "left"},
        "title": {"x": 0.05},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
    },
}

# plotly's "RdBu" as plotly (Python) spells it out; plotly.js's own "RdBu" is a different scale.
RDBU = [
    [0.0, "rgb(103,0,31)"],
    [0.1, "rgb(178,24,43)"],
    [0.2, "rgb(214,96,77)"],
    [0.3, "rgb(244,165,130)"],
    [0.4, "rgb(253,219,199)"],
    [0.5, "rgb(247,247,247)"],
    [0.6, "rgb(209,229,240)"],
    [0.7, "rgb(146,197,222)"],
    [0.8, "rgb(67,147,195)"],
    [0.9, "rgb(33,102,172)"],
    [1.0, "rgb(5,48,97)"],
]

PANEL_SPACING = 0.08


def _text(text: str) -> str:
    """Text for plotly.js as it was written. plotly.js reads every label (trace names, hover text, axis titles and
    ticks, annotations) as markup with tags such as <a href> and <br>, and turns entities back into characters; so
    names written by people go in with their markup characters as entities, and show as typed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _axis_title(metric: Metric) -> str:
    direction = "higher is better" if metric.higher_is_better else "lower is better, axis reversed"
    return f"{_text(metric.label)} ({direction})"


def _figure(data: list[dict], **layout) -> dict:
    """A figure with the shared layout and theme; every figure gets its own copy of them."""
    return {"data": data, "layout": copy.deepcopy({**LAYOUT, "template": THEME}) | layout}


def _panel_domains(rows: int) -> list[list[float]]:
    """[bottom, top] of each panel's y axis, top panel first, computed as plotly's `make_subplots` does."""
    height = (1.0 - PANEL_SPACING * (rows - 1)) / rows
    domains = []
    for row in range(rows):
        below = rows - 1 - row
        bottom = sum([height] * below) + below * PANEL_SPACING
        domains.append([bottom, min(bottom + height, 1.0)])
    return domains


def metric_over_steps(
    metrics: list[Metric], series: dict[str, list[tuple[int, dict[int, float | None]]]], best: dict, focus: str
) -> dict:
    """One panel per metric, one line per training over steps; `best[(training, metric id)] = (step, value)`.

    `series[training]` is a list of (step, {metric id: value}); the `focus` training is drawn bold.
    Lower-is-better panels have their axis reversed, so up always means better. The panels share the x axis of the
    bottom one, which alone shows its tick labels, and each has its title as an annotation above it.
    """
    rows = len(metrics)
    bottom_x = "x" if rows == 1 else f"x{rows}"
    data = []
    axes = {}
    titles = []
    for row, (metric, domain) in enumerate(zip(metrics, _panel_domains(rows), strict=True), start=1):
        suffix = "" if row == 1 else str(row)
        x, y = f"x{suffix}", f"y{suffix}"
        for training, points in series.items():
            steps = [step for step, values in points if values.get(metric.pk) is not None]
            values = [values[metric.pk] for step, values in points if values.get(metric.pk) is not None]
            focused = training == focus
            data.append(
                {
                    "type": "scatter",
                    "x": steps,
                    "y": values,
                    "mode": "lines+markers",
                    "name": _text(training),
                    "legendgroup": training,
                    "showlegend": row == 1,
                    "line": {"width": 3 if focused else 1.5},
                    "marker": {"size": 5 if focused else 3},
                    # The name through plotly's own variable: a name holding "%{y}" is not a template.
                    "hovertemplate": f"%{{fullData.name}}<br>step %{{x}}<br>%{{y:.{metric.decimals}f}}<extra></extra>",
                    "xaxis": x,
                    "yaxis": y,
                }
            )
            if (training, metric.pk) in best:
                step, value = best[(training, metric.pk)]
                data.append(
                    {
                        "type": "scatter",
                        "x": [step],
                        "y": [value],
                        "mode": "markers",
                        "name": _text(training),
                        "legendgroup": training,
                        "showlegend": False,
                        "marker": {"symbol": "star", "size": 14 if focused else 10, "line": {"width": 1}},
                        "hovertemplate": "best of %{fullData.name}: step %{x}<extra></extra>",
                        "xaxis": x,
                        "yaxis": y,
                    }
                )
        if x == bottom_x:
            axes[f"xaxis{suffix}"] = {"anchor": y, "domain": [0.0, 1.0], "title": {"text": "step"}}
        else:
            axes[f"xaxis{suffix}"] = {"anchor": y, "domain": [0.0, 1.0], "matches": bottom_x, "showticklabels": False}
        axes[f"yaxis{suffix}"] = {
            "anchor": x,
            "domain": domain,
            "title": {"text": _axis_title(metric)},
            "autorange": True if metric.higher_is_better else "reversed",
        }
        titles.append(
            {
                "text": _text(metric.title),
                "font": {"size": 16},
                "showarrow": False,
                "x": 0.5,
                "xanchor": "center",
                "xref": "paper",
                "y": domain[1],
                "yanchor": "bottom",
                "yref": "paper",
            }
        )
    return _figure(data, **axes, annotations=titles, height=260 * rows + 80)


def bars(labels: list[str], metrics: list[Metric], values: dict[int, list[float | None]]) -> dict:
    """Grouped bars: one group per metric, one bar per label (a compared checkpoint)."""
    names = [_text(m.title) for m in metrics]
    data = [
        {"type": "bar", "name": _text(label), "x": names, "y": [values[m.pk][index] for m in metrics]}
        for index, label in enumerate(labels)
    ]
    return _figure(data, barmode="group", height=420)


def heatmap(labels: list[str], matrix: list[list[float | None]], title: str) -> dict:
    labels = [_text(label) for label in labels]
    trace = {
        "type": "heatmap",
        "z": matrix,
        "x": labels,
        "y": labels,
        "zmin": -1,
        "zmax": 1,
        "colorscale": copy.deepcopy(RDBU),
        "texttemplate": "%{z:.2f}",
        "hovertemplate": "%{y} × %{x}: %{z:.3f}<extra></extra>",
    }
    return _figure(
        [trace], title={"text": _text(title)}, height=120 + 40 * len(labels), yaxis={"autorange": "reversed"}
    )


def line(x: list, y: list, *, name: str, y_title: str, x_title: str, step_shape: bool = True) -> dict:
    trace = {
        "type": "scatter",
        # ISO strings, as plotly's encoder writes dates (Django's `json_script` would cut microseconds and say "Z").
        "x": [value.isoformat() if isinstance(value, date) else value for value in x],
        "y": y,
        "name": _text(name),
        "mode": "lines+markers",
        "line": {"shape": "hv" if step_shape else "linear"},
        "hovertemplate": "%{y:,.5~g}<extra></extra>",
    }
    yaxis = {"title": {"text": _text(y_title)}, "tickformat": ",.4~g"}
    if spans_orders_of_magnitude(y):
        # Rounded significant digits with separators: 1,000,000 rather than "1e+6" at the decades.
        yaxis |= {"type": "log", "title": {"text": _text(f"{y_title} (log scale)")}, "tickformat": ",.4~r"}
    return _figure([trace], height=380, xaxis={"title": {"text": _text(x_title)}}, yaxis=yaxis)


def spans_orders_of_magnitude(values: list[float | None]) -> bool:
    """Whether positive values differ by 100 times or more, where a linear axis would flatten all but the largest."""
    known = [value for value in values if value is not None]
    return bool(known) and min(known) > 0 and max(known) / min(known) >= 100


def pareto(rows: list, *, y_title: str, higher_is_better: bool) -> dict:
    """Every row's score against its size (log axis), and the frontier the database marked, as a step line.

    Each point carries its checkpoint's URL in `customdata`; static/js/pareto.js opens it on a click.
    """

    def trace(points: list, **fields) -> dict:
        return {
            "type": "scatter",
            "x": [row.size for row in points],
            "y": [row.score for row in points],
            "customdata": [row.get_absolute_url() for row in points],
            "text": [_text(f"{row.training.name} · step {row.step:,}") for row in points],
            "hovertemplate": "%{text}<br>%{x:.3s} parameters<br>score %{y:.4f}<extra></extra>",
            **fields,
        }

    frontier = [row for row in rows if row.on_frontier]
    # Lower-is-better frontiers fall to the right; "hv" still draws the best-so-far staircase either way.
    data = [
        trace(rows, mode="markers", name="checkpoints", marker={"size": 9, "opacity": 0.7}),
        trace(frontier, mode="lines+markers", name="Pareto frontier", line={"shape": "hv", "width": 2}),
    ]
    direction = "higher is better" if higher_is_better else "lower is better"
    return _figure(
        data,
        height=440,
        xaxis={"type": "log", "title": {"text": "parameters (log scale)"}},
        yaxis={"title": {"text": _text(f"{y_title} ({direction})")}},
    )

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


def _panel_title(metric: Metric) -> str:
    """A panel's title says what its short y title leaves out: which way is better, and that the axis is reversed.

    Long y titles ("likelihood_difference (lower is better, axis reversed)") ran into the neighbouring panels."""
    direction = "higher is better" if metric.higher_is_better else "lower is better, axis reversed"
    return f"{_text(metric.title)} · {direction}"


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


def smoothed(values: list[float], weight: float) -> list[float]:
    """The exponential moving average W&B and TensorBoard draw, over successive checkpoints, with their debiasing.

    `weight` 0 leaves the values as they are; 0.99 follows the trend only. Without the debiasing the first points
    would be pulled towards 0.
    """
    average, out = 0.0, []
    for count, value in enumerate(values, start=1):
        average = average * weight + (1 - weight) * value
        out.append(average / (1 - weight**count))
    return out


def step_zero_position(steps: list[int]) -> float:
    """Where step 0 is drawn on a log step axis, which has no 0: half the first positive step (0.5 without one).

    The hover text and the note under the chart still say "step 0"."""
    positive = [step for step in steps if step > 0]
    return min(positive) / 2 if positive else 0.5


def _compact(step: float) -> str:
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if step >= size:
            return f"{step / size:g}{suffix}"
    return f"{step:g}"


def _log_step_ticks(series: dict, zero_at: float) -> dict:
    """A log step axis ticked at the powers of ten, and at step 0's position labelled "0": plotly's own ticks put a
    "5" there (for 0.5), which read as step 5."""
    steps = [step for points in series.values() for step, _ in points]
    top = max(steps, default=1)
    ticks = [10**power for power in range(len(str(max(1, int(top)))) + 1) if 10**power <= top * 10]
    labels = [_compact(tick) for tick in ticks]
    if 0 in steps:
        ticks, labels = [zero_at, *ticks], ["0", *labels]
    return {"type": "log", "tickmode": "array", "tickvals": ticks, "ticktext": labels}


def metric_over_steps(
    metrics: list[Metric],
    series: dict[str, list[tuple[int, dict[int, float | None]]]],
    best: dict,
    focus: str,
    *,
    colours: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
    legend_title: str | None = None,
    log_steps: bool = False,
    smoothing: float = 0.0,
) -> dict:
    """One panel per metric, one line per training over steps; `best[(training, metric id)] = (step, value)`.

    `series[training]` is a list of (step, {metric id: value}); the `focus` training is drawn bold. Each training
    has one colour in every panel, its line, markers and star alike: `colours[training]`, or the theme's colours in
    the order of `series`. With `groups` (training → group, for "colour by"), the legend lists the groups and
    `legend_title` says what they are.

    Lower-is-better panels have their axis reversed, so up always means better. The panels share the x axis of the
    bottom one, which alone shows its tick labels, and each has its title as an annotation above it. On a log step
    axis step 0 is drawn at `step_zero_position`; every point carries its real step in `customdata`. With
    `smoothing`, each line is drawn smoothed (`smoothed`) over its raw values, which stay faint behind it.
    """
    palette = THEME["layout"]["colorway"]
    colours = colours or {name: palette[index % len(palette)] for index, name in enumerate(series)}
    zero_at = step_zero_position([step for points in series.values() for step, _ in points])

    def position(step: int) -> float | int:
        return zero_at if log_steps and step == 0 else step

    rows = len(metrics)
    bottom_x = "x" if rows == 1 else f"x{rows}"
    data = []
    axes = {}
    titles = []
    in_legend = set()
    for row, (metric, domain) in enumerate(zip(metrics, _panel_domains(rows), strict=True), start=1):
        suffix = "" if row == 1 else str(row)
        x, y = f"x{suffix}", f"y{suffix}"
        for training, points in series.items():
            steps = [step for step, values in points if values.get(metric.pk) is not None]
            values = [values[metric.pk] for step, values in points if values.get(metric.pk) is not None]
            focused = training == focus
            colour = colours[training]
            group = groups[training] if groups else training
            shared = {
                "type": "scatter",
                "x": [position(step) for step in steps],
                "y": values,
                "customdata": steps,
                "meta": _text(training),
                "name": _text(group),
                "legendgroup": group,
                "xaxis": x,
                "yaxis": y,
            }
            # The name through plotly's own variable: a name holding "%{y}" is not a template.
            hover = f"%{{meta}}<br>step %{{customdata:,}}<br>%{{y:.{metric.decimals}f}}"
            line = shared | {
                "mode": "lines+markers",
                "showlegend": row == 1 and group not in in_legend,
                "line": {"width": 3 if focused else 1.5, "color": colour},
                "marker": {"size": 5 if focused else 3, "color": colour},
                "hovertemplate": f"{hover}<extra></extra>",
            }
            if row == 1:
                in_legend.add(group)
            if smoothing and values:
                # The raw values stay, faint, behind the smoothed line; the legend entry is the smoothed one's.
                raw = line | {"showlegend": False, "opacity": 0.25, "hovertemplate": f"{hover} (raw)<extra></extra>"}
                line = line | {
                    "y": smoothed(values, smoothing),
                    "mode": "lines",
                    "hovertemplate": f"{hover} (smoothed)<extra></extra>",
                }
                data += [raw, line]
            else:
                data.append(line)
            if (training, metric.pk) in best:
                step, value = best[(training, metric.pk)]
                data.append(
                    shared
                    | {
                        "x": [position(step)],
                        "y": [value],
                        "customdata": [step],
                        "mode": "markers",
                        "showlegend": False,
                        "marker": {
                            "symbol": "star",
                            "size": 14 if focused else 10,
                            "color": colour,
                            "line": {"width": 1},
                        },
                        "hovertemplate": "best of %{meta}: step %{customdata:,}<extra></extra>",
                    }
                )
        step_axis = _log_step_ticks(series, zero_at) if log_steps else {}
        if x == bottom_x:
            title = "step (log scale)" if log_steps else "step"
            axes[f"xaxis{suffix}"] = {"anchor": y, "domain": [0.0, 1.0], "title": {"text": title}} | step_axis
        else:
            axes[f"xaxis{suffix}"] = {
                "anchor": y,
                "domain": [0.0, 1.0],
                "matches": bottom_x,
                "showticklabels": False,
            } | step_axis
        axes[f"yaxis{suffix}"] = {
            "anchor": x,
            "domain": domain,
            "title": {"text": _text(metric.label)},
            "autorange": True if metric.higher_is_better else "reversed",
        }
        panel_values = [values.get(metric.pk) for points in series.values() for _, values in points]
        if spans_orders_of_magnitude(panel_values):
            # A step-0 perplexity of 3,594,272 would flatten the rest of the run (6 to 40) into the axis line.
            axes[f"yaxis{suffix}"] |= {"type": "log", "title": {"text": f"{_text(metric.label)} (log)"}}
            axes[f"yaxis{suffix}"]["tickformat"] = ",.4~r"
        titles.append(
            {
                "text": _panel_title(metric),
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
    height = 260 * rows + 80
    # Just under the bottom axis title, however tall the chart (a fixed fraction left 150 px empty under 4 panels).
    plot_height = height - LAYOUT["margin"]["t"] - LAYOUT["margin"]["b"]
    legend = LAYOUT["legend"] | {"y": round(-70 / plot_height, 4)}
    if legend_title:
        legend["title"] = {"text": _text(legend_title)}
    figure = _figure(data, **axes, annotations=titles, height=height, legend=legend)
    figure["narrow"] = _narrow_panels(axes, titles)
    return figure


def _narrow_panels(axes: dict, titles: list[dict]) -> dict:
    """The layout changes for a phone: titles in two smaller lines (benchmark, then metric and direction) and no y
    titles, which the panel titles repeat ("log" on a log axis); on one line they ran off both sides of a 390 px
    screen."""
    narrow = {
        name: {**axis, "title": {"text": "log" if axis.get("type") == "log" else ""}}
        for name, axis in axes.items()
        if name.startswith("yaxis")
    }
    narrow["annotations"] = [
        title | {"text": title["text"].replace(" · ", "<br>", 1), "font": {"size": 12}} for title in titles
    ]
    return narrow


COMPARE_COLUMNS = 3
# Below this width (px) static/js/charts.js draws a figure's "narrow" layout: one panel a row, titles readable.
NARROW_WIDTH = 640


def metric_panels(labels: list[str], metrics: list[Metric], values: dict[int, list[tuple]]) -> dict:
    """One small panel per metric, each on its own y axis, a dot (± stderr) per compared checkpoint.

    `values[metric id]` holds (value, stderr) per label. Raw values of different scales on one axis let
    likelihood_difference (≈ 3.5) flatten accuracies (≈ 0.3) into one line; each metric keeps its own scale and
    units here. Lower-is-better panels are reversed, so up is better everywhere, and each checkpoint has one colour
    in every panel, named once in the legend above the panels (below them it ran into the rotated labels).
    The figure's `narrow` layout puts the panels one a row, for phones.
    """
    palette = THEME["layout"]["colorway"]
    data = []
    for index, metric in enumerate(metrics):
        suffix = "" if index == 0 else str(index + 1)
        for position, label in enumerate(labels):
            value, stderr = values[metric.pk][position]
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [_text(label)],
                    "y": [value],
                    "error_y": {"type": "data", "array": [stderr or 0], "visible": stderr is not None},
                    "name": _text(label),
                    "legendgroup": label,
                    "showlegend": index == 0,
                    "marker": {"size": 10, "color": palette[position % len(palette)]},
                    "hovertemplate": f"%{{x}}<br>%{{y:.{metric.decimals}f}}<extra></extra>",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
    # Above the panels, where plotly makes room for it however many lines it wraps to.
    legend = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}
    figure = _figure(
        data, legend=legend, margin=LAYOUT["margin"] | {"t": 20, "b": 20}, **_grid(metrics, COMPARE_COLUMNS)
    )
    figure["narrow"] = _grid(metrics, 1)
    return figure


def _grid(metrics: list[Metric], columns: int) -> dict:
    """Layout of `metric_panels` with `columns` panels a row: each row its two-line titles, then the panels."""
    rows = -(-len(metrics) // columns)
    gap = 0.06
    width = (1 - gap * (columns - 1)) / columns
    unit = 1.0 / rows
    layout: dict = {"annotations": [], "height": 210 * rows + 100}
    for index, metric in enumerate(metrics):
        row, column = divmod(index, columns)
        suffix = "" if index == 0 else str(index + 1)
        bottom, left = (rows - 1 - row) * unit, column * (width + gap)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [left, left + width], "showticklabels": False}
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [bottom + 0.05 * unit, bottom + 0.76 * unit],
            # Only a lower-is-better axis is reversed; one of unknown direction is drawn as it is.
            "autorange": "reversed" if metric.direction == Metric.Direction.LOWER else True,
            "nticks": 4,
        }
        direction = {"higher": "higher is better", "lower": "lower is better (reversed)"}.get(
            metric.direction, "direction unknown"
        )
        layout["annotations"].append(
            {
                "text": f"{_text(metric.title)}<br>{direction}",
                "font": {"size": 12},
                "showarrow": False,
                "x": left + width / 2,
                "xanchor": "center",
                "xref": "paper",
                "y": bottom + unit,
                "yanchor": "top",
                "yref": "paper",
            }
        )
    return layout


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


def pareto(
    rows: list, *, y_title: str, higher_is_better: bool, groups: dict | None = None, legend_title: str = ""
) -> dict:
    """Every row's score against its size (log axis), and the frontier the database marked, as a step line.

    `groups` (row id → group label, in the legend's order) colours the points by group, one trace each, as W&B's
    "group by" does. Each point carries its checkpoint's URL in `customdata`; static/js/pareto.js opens it on a click.
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

    marker = {"size": 9, "opacity": 0.7}
    if groups:
        by_group: dict[str, list] = {label: [] for label in groups.values()}
        for row in rows:
            by_group[groups[row.pk]].append(row)
        points = [
            trace(members, mode="markers", name=_text(label), marker=marker) for label, members in by_group.items()
        ]
    else:
        points = [trace(rows, mode="markers", name="checkpoints", marker=marker)]
    frontier = [row for row in rows if row.on_frontier]
    # Lower-is-better frontiers fall to the right; "hv" still draws the best-so-far staircase either way.
    frontier_line = {"shape": "hv", "width": 2, "color": "#1f2937" if groups else None}
    data = [
        *points,
        trace(
            frontier, mode="lines+markers", name="Pareto frontier", line={k: v for k, v in frontier_line.items() if v}
        ),
    ]
    direction = "higher is better" if higher_is_better else "lower is better"
    return _figure(
        data,
        height=440,
        xaxis={"type": "log", "title": {"text": "parameters (log scale)"}},
        yaxis={"title": {"text": _text(f"{y_title} ({direction})")}},
        **({"legend": {"title": {"text": _text(legend_title)}}} if legend_title else {}),
    )

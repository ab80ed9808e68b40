"""Chart figures built with plotly and drawn in the browser by the plotly.js its wheel ships.

Figures are plain JSON handed to the page with `json_script`; static/js/charts.js draws every one it finds, and
each page also shows the same numbers in a table, so nothing is lost without JavaScript.
"""

import json

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evaluations.models import Metric

LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 13},
    "legend": {"orientation": "h", "y": -0.15},
    "hovermode": "closest",
}


def _axis_title(metric: Metric) -> str:
    direction = "higher is better" if metric.higher_is_better else "lower is better, axis reversed"
    return f"{metric.label} ({direction})"


def metric_over_steps(
    metrics: list[Metric], series: dict[str, list[tuple[int, dict[int, float | None]]]], best: dict, focus: str
) -> dict:
    """One panel per metric, one line per training over steps; `best[(training, metric id)] = (step, value)`.

    `series[training]` is a list of (step, {metric id: value}); the `focus` training is drawn bold.
    Lower-is-better panels have their axis reversed, so up always means better.
    """
    figure = make_subplots(
        rows=len(metrics),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[f"{m.benchmark.name} · {m.label}" for m in metrics],
    )
    for row, metric in enumerate(metrics, start=1):
        for training, points in series.items():
            steps = [step for step, values in points if values.get(metric.pk) is not None]
            values = [values[metric.pk] for step, values in points if values.get(metric.pk) is not None]
            width = 3 if training == focus else 1.5
            figure.add_trace(
                go.Scatter(
                    x=steps,
                    y=values,
                    mode="lines+markers",
                    name=training,
                    legendgroup=training,
                    showlegend=row == 1,
                    line={"width": width},
                    marker={"size": 5 if training == focus else 3},
                    hovertemplate=f"{training}<br>step %{{x}}<br>%{{y:.{metric.decimals}f}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            if (training, metric.pk) in best:
                step, value = best[(training, metric.pk)]
                figure.add_trace(
                    go.Scatter(
                        x=[step],
                        y=[value],
                        mode="markers",
                        legendgroup=training,
                        showlegend=False,
                        marker={"symbol": "star", "size": 14 if training == focus else 10, "line": {"width": 1}},
                        hovertemplate=f"best of {training}: step %{{x}}<extra></extra>",
                    ),
                    row=row,
                    col=1,
                )
        figure.update_yaxes(
            title_text=_axis_title(metric), autorange=True if metric.higher_is_better else "reversed", row=row, col=1
        )
    figure.update_xaxes(title_text="step", row=len(metrics), col=1)
    figure.update_layout(height=260 * len(metrics) + 80, **LAYOUT)
    return _data(figure)


def bars(labels: list[str], metrics: list[Metric], values: dict[int, list[float | None]]) -> dict:
    """Grouped bars: one group per metric, one bar per label (a compared checkpoint)."""
    figure = go.Figure()
    names = [f"{m.benchmark.name} · {m.label}" for m in metrics]
    for index, label in enumerate(labels):
        figure.add_trace(go.Bar(name=label, x=names, y=[values[m.pk][index] for m in metrics]))
    figure.update_layout(barmode="group", height=420, **LAYOUT)
    return _data(figure)


def heatmap(labels: list[str], matrix: list[list[float | None]], title: str) -> dict:
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            texttemplate="%{z:.2f}",
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(title=title, height=120 + 40 * len(labels), **LAYOUT)
    figure.update_yaxes(autorange="reversed")
    return _data(figure)


def line(x: list, y: list, *, name: str, y_title: str, step_shape: bool = True) -> dict:
    figure = go.Figure(
        go.Scatter(x=x, y=y, name=name, mode="lines+markers", line={"shape": "hv" if step_shape else "linear"})
    )
    figure.update_layout(height=380, yaxis_title=y_title, **LAYOUT)
    return _data(figure)


def _data(figure: go.Figure) -> dict:
    """The figure as plain JSON data for `json_script` (plotly's own encoder handles its numpy arrays)."""
    return json.loads(figure.to_json())

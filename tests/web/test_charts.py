"""Chart figures: the plotly.js JSON that static/js/charts.js draws, and how it compares with plotly's own output."""

import datetime as dt
import json

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from rankings import charts
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics():
    return [
        factories.metric(key="acc", benchmark=factories.benchmark(name="ARC")),
        factories.metric(key="ppl", higher_is_better=False, decimals=2, benchmark=factories.benchmark(name="Wiki")),
        factories.metric(key="acc_norm", decimals=4, benchmark=factories.benchmark(name="HellaSwag")),
    ]


def runs(metrics):
    """(series, best) for two trainings; run-b has no acc at step 250 and run-a no acc_norm at step 100."""
    acc, ppl, norm = (m.pk for m in metrics)
    series = {
        "run-a": [(100, {acc: 0.3, ppl: 20.0, norm: None}), (200, {acc: 0.5, ppl: 12.0, norm: 0.4})],
        "run-b": [(100, {acc: 0.6, ppl: 10.0, norm: 0.2}), (250, {acc: None, ppl: 11.0, norm: 0.3})],
    }
    best = {("run-a", acc): (200, 0.5), ("run-a", ppl): (200, 12.0), ("run-b", acc): (100, 0.6)}
    return series, best


def panel(figure, row: int) -> list[dict]:
    axis = "y" if row == 1 else f"y{row}"
    return [trace for trace in figure["data"] if trace["yaxis"] == axis]


def test_each_metric_gets_a_panel_top_down_sharing_the_bottom_x_axis(metrics):
    figure = charts.metric_over_steps(metrics, *runs(metrics), focus="run-a")
    layout = figure["layout"]
    assert [layout[name]["domain"] for name in ("yaxis", "yaxis2", "yaxis3")] == [
        pytest.approx([0.72, 1.0]),
        pytest.approx([0.36, 0.64]),
        pytest.approx([0.0, 0.28]),
    ]
    assert [(layout[x]["anchor"], layout[y]["anchor"]) for x, y in [("xaxis", "yaxis"), ("xaxis3", "yaxis3")]] == [
        ("y", "x"),
        ("y3", "x3"),
    ]
    assert [layout[name].get("matches") for name in ("xaxis", "xaxis2", "xaxis3")] == ["x3", "x3", None]
    assert [layout[name].get("showticklabels", True) for name in ("xaxis", "xaxis2", "xaxis3")] == [False, False, True]
    assert layout["xaxis3"]["title"] == {"text": "step"}
    assert layout["height"] == 3 * 260 + 80
    titles = [(a["text"], a["y"], a["yref"], a["yanchor"]) for a in layout["annotations"]]
    assert titles == [
        ("ARC · acc · higher is better", 1.0, "paper", "bottom"),
        ("Wiki · ppl · lower is better, axis reversed", pytest.approx(0.64), "paper", "bottom"),
        ("HellaSwag · acc_norm · higher is better", pytest.approx(0.28), "paper", "bottom"),
    ]


def test_lower_is_better_panels_have_their_axis_reversed(metrics):
    layout = charts.metric_over_steps(metrics, *runs(metrics), focus="run-a")["layout"]
    assert [layout[name]["autorange"] for name in ("yaxis", "yaxis2", "yaxis3")] == [True, "reversed", True]
    assert layout["annotations"][1]["text"] == "Wiki · ppl · lower is better, axis reversed"


def test_a_line_per_training_skips_missing_values_and_stars_the_best_step(metrics):
    figure = charts.metric_over_steps(metrics, *runs(metrics), focus="run-a")
    first = [(t["name"] if t["mode"] == "lines+markers" else "★", t["x"], t["y"]) for t in panel(figure, 1)]
    assert first == [
        ("run-a", [100, 200], [0.3, 0.5]),
        ("★", [200], [0.5]),
        ("run-b", [100], [0.6]),
        ("★", [100], [0.6]),
    ]
    stars = [t for t in figure["data"] if t["mode"] == "markers"]
    assert {t["marker"]["symbol"] for t in stars} == {"star"}
    assert [(t["legendgroup"], t["marker"]["size"]) for t in stars] == [("run-a", 14), ("run-b", 10), ("run-a", 14)]
    assert [(t["name"], t["x"]) for t in panel(figure, 3)] == [("run-a", [200]), ("run-b", [100, 250])]


def test_the_focus_training_is_bold_and_each_training_is_in_the_legend_once(metrics):
    figure = charts.metric_over_steps(metrics, *runs(metrics), focus="run-a")
    lines = [t for t in figure["data"] if t["mode"] == "lines+markers"]
    assert {t["name"]: t["line"]["width"] for t in lines} == {"run-a": 3, "run-b": 1.5}
    assert [t["name"] for t in figure["data"] if t["showlegend"]] == ["run-a", "run-b"]
    assert all(t["legendgroup"] == t["name"] for t in lines)
    assert panel(figure, 2)[0]["hovertemplate"] == "%{meta}<br>step %{customdata:,}<br>%{y:.2f}<extra></extra>"


def test_names_with_markup_show_as_typed_in_legends_hovers_ticks_and_titles(metrics):
    name = '<a href="x">evil</a> & %{y}'
    shown = '&lt;a href="x"&gt;evil&lt;/a&gt; &amp; %{y}'  # plotly.js turns the entities back into characters
    figure = charts.metric_over_steps(metrics[:1], {name: [(100, {metrics[0].pk: 0.5})]}, {}, focus=name)
    assert figure["data"][0]["name"] == shown
    heatmap = charts.heatmap([name, "b"], [[1.0, 0.0], [0.0, 1.0]], name)
    assert heatmap["data"][0]["x"][0] == shown
    assert heatmap["layout"]["title"]["text"] == shown
    assert charts.metric_panels([name], metrics[:1], {metrics[0].pk: [(0.5, None)]})["data"][0]["name"] == shown


def test_a_single_metric_is_one_full_height_panel(metrics):
    layout = charts.metric_over_steps(metrics[:1], *runs(metrics), focus="run-b")["layout"]
    assert layout["xaxis"] == {"anchor": "y", "domain": [0.0, 1.0], "title": {"text": "step"}}
    assert layout["yaxis"]["domain"] == [0.0, 1.0]
    assert "xaxis2" not in layout
    assert [a["text"] for a in layout["annotations"]] == ["ARC · acc · higher is better"]


def test_line_writes_dates_as_iso_strings():
    when = [dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), dt.datetime(2024, 2, 3, 8, 30, 15, 123456, tzinfo=dt.UTC)]
    figure = charts.line(when, [0.5, 0.6], name="best so far", y_title="score", x_title="reached on")
    assert figure["data"][0]["x"] == ["2024-01-01T12:00:00+00:00", "2024-02-03T08:30:15.123456+00:00"]
    assert figure["data"][0]["line"] == {"shape": "hv"}
    assert figure["layout"]["yaxis"] == {"title": {"text": "score"}, "tickformat": ",.4~g"}
    assert figure["layout"]["xaxis"] == {"title": {"text": "reached on"}}


def test_a_line_over_orders_of_magnitude_has_a_log_axis_with_thousands_separators():
    figure = charts.line([1, 2, 3], [3_594_272.0, 41.2, 6.1], name="best so far", y_title="perplexity", x_title="n")
    assert figure["layout"]["yaxis"] == {
        "title": {"text": "perplexity (log scale)"},
        "tickformat": ",.4~r",
        "type": "log",
    }
    assert figure["data"][0]["hovertemplate"].startswith("%{y:,")


# What plotly's graph objects build for the same charts: the implementation charts.py replaced.


def plotly_metric_over_steps(metrics, series, best, focus) -> go.Figure:
    figure = make_subplots(
        rows=len(metrics),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[charts._panel_title(m) for m in metrics],
    )
    colours = dict(zip(series, charts.THEME["layout"]["colorway"], strict=False))
    for row, metric in enumerate(metrics, start=1):
        for training, points in series.items():
            colour = colours[training]
            kept = [(step, values[metric.pk]) for step, values in points if values.get(metric.pk) is not None]
            figure.add_trace(
                go.Scatter(
                    x=[step for step, _ in kept],
                    y=[value for _, value in kept],
                    customdata=[step for step, _ in kept],
                    meta=training,
                    mode="lines+markers",
                    name=training,
                    legendgroup=training,
                    showlegend=row == 1,
                    line={"width": 3 if training == focus else 1.5, "color": colour},
                    marker={"size": 5 if training == focus else 3, "color": colour},
                    hovertemplate=f"%{{meta}}<br>step %{{customdata:,}}<br>%{{y:.{metric.decimals}f}}<extra></extra>",
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
                        customdata=[step],
                        meta=training,
                        mode="markers",
                        name=training,
                        legendgroup=training,
                        showlegend=False,
                        marker={
                            "symbol": "star",
                            "size": 14 if training == focus else 10,
                            "color": colour,
                            "line": {"width": 1},
                        },
                        hovertemplate="best of %{meta}: step %{customdata:,}<extra></extra>",
                    ),
                    row=row,
                    col=1,
                )
        autorange = True if metric.higher_is_better else "reversed"
        figure.update_yaxes(title_text=metric.label, autorange=autorange, row=row, col=1)
    figure.update_xaxes(title_text="step", row=len(metrics), col=1)
    height = 260 * len(metrics) + 80
    return figure.update_layout(height=height, **charts.LAYOUT).update_layout(legend_y=round(-70 / (height - 90), 4))


def plotly_figures(metrics):
    """(our figure, plotly's figure) for every chart function."""
    series, best = runs(metrics)
    labels = ["x", "y", "z"]
    matrix = [[1.0, 0.5, None], [0.5, 1.0, -0.2], [None, -0.2, 1.0]]
    when = [dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), dt.datetime(2024, 2, 3, 8, 30, 15, 123456, tzinfo=dt.UTC)]
    heatmap = go.Heatmap(
        z=matrix,
        x=labels,
        y=labels,
        zmin=-1,
        zmax=1,
        colorscale="RdBu",
        texttemplate="%{z:.2f}",
        hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
    )
    pairs = {
        f"{n} metrics": (
            charts.metric_over_steps(metrics[:n], series, best, focus="run-a"),
            plotly_metric_over_steps(metrics[:n], series, best, focus="run-a"),
        )
        for n in (1, 2, 3)
    }
    pairs["heatmap"] = (
        charts.heatmap(labels, matrix, "Kendall's τ"),
        go.Figure(heatmap)
        .update_layout(title="Kendall's τ", height=240, **charts.LAYOUT)
        .update_yaxes(autorange="reversed"),
    )
    for shape in ("hv", "linear"):
        pairs[f"{shape} line"] = (
            charts.line(when, [0.5, 0.6], name="best", y_title="score", x_title="reached on", step_shape=shape == "hv"),
            go.Figure(
                go.Scatter(
                    x=when,
                    y=[0.5, 0.6],
                    name="best",
                    mode="lines+markers",
                    line={"shape": shape},
                    hovertemplate="%{y:,.5~g}<extra></extra>",
                )
            ).update_layout(
                height=380, xaxis_title="reached on", yaxis_title="score", yaxis_tickformat=",.4~g", **charts.LAYOUT
            ),
        )
    return {name: (ours, json.loads(reference.to_json())) for name, (ours, reference) in pairs.items()}


def test_figures_are_what_plotly_builds_apart_from_its_template(metrics):
    for name, (ours, reference) in plotly_figures(metrics).items():
        ours, reference = json.loads(json.dumps(ours)), json.loads(json.dumps(reference))
        ours.pop("narrow", None)  # static/js/charts.js's layout for phones, not plotly's (tested on its own)
        ours["layout"].pop("template")
        reference["layout"].pop("template")
        # Same keys, values and JSON types (1.0 is not 1, True is not 1), so plotly.js gets the same figure.
        assert json.dumps(ours, sort_keys=True) == json.dumps(reference, sort_keys=True), name


def test_the_theme_is_the_part_of_plotlys_template_these_charts_show(metrics):
    def contained(part, whole) -> bool:
        if isinstance(part, dict):
            return all(key in whole and contained(value, whole[key]) for key, value in part.items())
        if isinstance(part, list):
            return len(part) == len(whole) and all(map(contained, part, whole))
        return part == whole

    for name, (ours, reference) in plotly_figures(metrics).items():
        assert ours["layout"]["template"] == charts.THEME, name
        assert contained(charts.THEME, reference["layout"]["template"]), name
    # plotly's whole template is some 7 kB in every chart; ours is about a tenth of that.
    assert len(json.dumps(charts.THEME)) * 5 < len(json.dumps(reference["layout"]["template"]))


def test_each_figure_is_its_own_copy(metrics):
    first = charts.metric_panels(["a"], metrics[:1], {metrics[0].pk: [(0.3, None)]})
    first["layout"]["font"]["size"] = 99
    first["layout"]["template"]["layout"]["colorway"].clear()
    second = charts.metric_panels(["a"], metrics[:1], {metrics[0].pk: [(0.3, None)]})
    assert second["layout"]["font"]["size"] == 13
    assert second["layout"]["template"]["layout"]["colorway"]


def test_step_charts_on_a_phone_title_panels_in_two_short_lines_without_y_titles(metrics):
    narrow = charts.metric_over_steps(metrics, *runs(metrics), focus="run-a")["narrow"]
    assert [a["text"] for a in narrow["annotations"]][1] == "Wiki<br>ppl · lower is better, axis reversed"
    assert {narrow[axis]["title"]["text"] for axis in ("yaxis", "yaxis2", "yaxis3")} == {""}
    assert narrow["yaxis2"]["autorange"] == "reversed"

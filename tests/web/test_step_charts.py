"""The step charts of the training page: one colour per training, short y titles, the log step axis, smoothing,
overlays of any model's trainings and "colour by" (issue 11, defect 4)."""

import re

import pytest

from rankings import charts
from tests import factories

pytestmark = pytest.mark.django_db

PYTHIA_STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 3000, 13000, 143000]


def lines_of(figure) -> list[dict]:
    return [trace for trace in figure["data"] if trace["mode"] != "markers"]


@pytest.fixture
def metrics():
    return [
        factories.metric(key="acc", benchmark=factories.benchmark(name="ARC")),
        factories.metric(
            key="likelihood_difference", higher_is_better=False, benchmark=factories.benchmark(name="CrowS")
        ),
    ]


def two_runs(metrics):
    acc, diff = (m.pk for m in metrics)
    series = {
        "run-a": [(0, {acc: 0.2, diff: 6.0}), (10, {acc: 0.3, diff: 5.0}), (1000, {acc: 0.5, diff: 3.5})],
        "run-b": [(0, {acc: 0.25, diff: 6.1}), (1000, {acc: 0.4, diff: 3.3})],
    }
    best = {("run-a", acc): (1000, 0.5), ("run-b", diff): (1000, 3.3), ("run-a", diff): (1000, 3.5)}
    return series, best


def test_one_training_is_one_colour_in_every_panel_line_marker_and_star(metrics):
    figure = charts.metric_over_steps(metrics, *two_runs(metrics), focus="run-a")
    colours: dict[str, set] = {}
    for trace in figure["data"]:
        colours.setdefault(trace["meta"], set()).add(trace["marker"]["color"])
        if "line" in trace:
            colours[trace["meta"]].add(trace["line"]["color"])
    assert {name: len(found) for name, found in colours.items()} == {"run-a": 1, "run-b": 1}
    assert colours["run-a"] != colours["run-b"]
    assert {trace["yaxis"] for trace in figure["data"] if trace["meta"] == "run-b"} == {"y", "y2"}


def test_y_titles_are_the_metric_alone_and_the_direction_is_in_the_panel_title(metrics):
    layout = charts.metric_over_steps(metrics, *two_runs(metrics), focus="run-a")["layout"]
    assert [layout[name]["title"]["text"] for name in ("yaxis", "yaxis2")] == ["acc", "likelihood_difference"]
    assert layout["annotations"][1]["text"] == "CrowS · likelihood_difference · lower is better, axis reversed"


def test_a_log_step_axis_draws_step_zero_at_half_the_first_step_and_hovers_the_real_step(metrics):
    layout_and_data = charts.metric_over_steps(metrics, *two_runs(metrics), focus="run-a", log_steps=True)
    layout = layout_and_data["layout"]
    assert (layout["xaxis"]["type"], layout["xaxis2"]["type"]) == ("log", "log")
    assert layout["xaxis2"]["title"] == {"text": "step (log scale)"}
    # Ticked at the decades, and "0" where step 0 is drawn (plotly's own ticks said "5" there, for 0.5).
    ticks = dict(zip(layout["xaxis2"]["tickvals"], layout["xaxis2"]["ticktext"], strict=True))
    assert ticks == {5.0: "0", 1: "1", 10: "10", 100: "100", 1000: "1k", 10000: "10k"}
    run_a = lines_of(layout_and_data)[0]
    assert (run_a["x"], run_a["customdata"]) == ([5.0, 10, 1000], [0, 10, 1000])
    assert "step %{customdata:,}" in run_a["hovertemplate"]


def test_a_panel_whose_values_span_orders_of_magnitude_gets_a_log_y_axis(metrics):
    series = {"run-a": [(0, {metrics[1].pk: 3_594_272.0}), (1000, {metrics[1].pk: 40.0}), (2000, {metrics[1].pk: 6.1})]}
    layout = charts.metric_over_steps(metrics, series, {}, focus="run-a")["layout"]
    assert layout["yaxis2"] | {"domain": None} == {
        "anchor": "x2",
        "domain": None,
        "title": {"text": "likelihood_difference (log)"},
        "autorange": "reversed",
        "type": "log",
        "tickformat": ",.4~r",
    }
    assert "type" not in layout["yaxis"]


def test_smoothing_draws_the_moving_average_over_the_faint_raw_values(metrics):
    figure = charts.metric_over_steps(metrics[:1], *two_runs(metrics), focus="run-a", smoothing=0.5)
    raw, smooth = lines_of(figure)[:2]
    assert (raw["y"], raw["opacity"], raw["showlegend"]) == ([0.2, 0.3, 0.5], 0.25, False)
    # Debiased EMA with weight 0.5: 0.1 / 0.5, (0.05 + 0.15) / 0.75, (0.1 + 0.25) / 0.875.
    assert smooth["y"] == pytest.approx([0.2, 0.2667, 0.4], abs=1e-4)
    assert smooth["showlegend"] is True
    assert "opacity" not in smooth
    assert charts.smoothed([1.0, 3.0], 0.0) == [1.0, 3.0]


def test_colour_by_groups_share_a_colour_and_the_legend_names_the_groups(metrics):
    series, best = two_runs(metrics)
    series["run-c"] = series["run-b"]
    groups = {"run-a": "pythia-1b", "run-b": "pythia-12b", "run-c": "pythia-12b"}
    colours = {"run-a": "#111111", "run-b": "#222222", "run-c": "#222222"}
    figure = charts.metric_over_steps(
        metrics, series, best, focus="run-a", colours=colours, groups=groups, legend_title="colour: model family"
    )
    assert [(t["name"], t["line"]["color"]) for t in figure["data"] if t["showlegend"]] == [
        ("pythia-1b", "#111111"),
        ("pythia-12b", "#222222"),
    ]
    assert figure["layout"]["legend"]["title"] == {"text": "colour: model family"}
    assert {t["meta"] for t in figure["data"] if t["legendgroup"] == "pythia-12b"} == {"run-b", "run-c"}


# The training page.


@pytest.fixture
def pythia(metrics):
    """Two models' trainings over Pythia's steps; the first metric is primary."""
    acc = metrics[0]
    small = factories.model(name="pythia-70m", parameter_count=70_000_000)
    big = factories.model(name="pythia-1b", parameter_count=1_000_000_000)
    trainings = [
        factories.training(name="main", model=small),
        factories.training(name="deduped", model=small),
        factories.training(name="main", model=big),
    ]
    for index, training in enumerate(trainings):
        for step in PYTHIA_STEPS:
            checkpoint = factories.checkpoint(training=training, step=step)
            factories.score(metric=acc, value=0.2 + index / 10 + step / 1e6, checkpoint_obj=checkpoint)
    return trainings


def chart_of(response) -> dict:
    return response.context["chart"]


def test_steps_spanning_orders_of_magnitude_default_to_a_log_axis_the_form_shows(client, pythia):
    response = client.get(pythia[0].get_absolute_url())
    assert chart_of(response)["layout"]["xaxis"]["type"] == "log"
    assert re.search(r'name="steps" value="log"[^>]* checked', response.text)
    assert "step 0 is drawn at half the first positive step" in response.text
    linear = client.get(pythia[0].get_absolute_url(), {"steps": "linear"})
    assert "type" not in chart_of(linear)["layout"]["xaxis"]
    assert linear.context["form"]["steps"].value() == "linear"


def test_steps_within_one_order_of_magnitude_stay_linear(client, metrics):
    training = factories.training(name="short")
    for step in (100, 200, 400):
        factories.score(metric=metrics[0], value=0.3, checkpoint_obj=factories.checkpoint(training=training, step=step))
    response = client.get(training.get_absolute_url())
    assert "type" not in chart_of(response)["layout"]["xaxis"]
    assert response.context["form"]["steps"].value() == "linear"


def test_smoothing_from_the_query_string_and_a_bad_value_named(client, pythia):
    smooth = client.get(pythia[0].get_absolute_url(), {"smooth": "0.6"})
    assert [t.get("opacity") for t in lines_of(chart_of(smooth))] == [0.25, None]
    assert "Lines are smoothed" in smooth.text
    bad = client.get(pythia[0].get_absolute_url(), {"smooth": "2"})
    assert bad.status_code == 200
    assert "Smoothing: must be a number from 0 (no smoothing) to 0.99" in bad.text
    assert [t.get("opacity") for t in lines_of(chart_of(bad))] == [None]
    assert "Lines are smoothed" not in bad.text


def test_trainings_of_other_models_overlay_with_their_model_named_where_names_repeat(client, pythia):
    response = client.get(pythia[0].get_absolute_url(), {"overlay_training": [pythia[2].pk]})
    assert [t["meta"] for t in lines_of(chart_of(response))] == ["pythia-70m · main", "pythia-1b · main"]
    both = client.get(pythia[1].get_absolute_url(), {"overlay_training": [pythia[2].pk]})
    assert [t["meta"] for t in lines_of(chart_of(both))] == ["deduped", "main"]


def test_colour_by_model_size_gives_each_size_one_colour_and_a_legend_saying_so(client, pythia):
    response = client.get(
        pythia[0].get_absolute_url(), {"overlay": "1", "overlay_training": [pythia[2].pk], "colour_by": "size"}
    )
    figure = chart_of(response)
    lines = lines_of(figure)
    assert [t["name"] for t in lines] == ["70M parameters", "70M parameters", "1B parameters"]
    assert lines[0]["line"]["color"] == lines[1]["line"]["color"] != lines[2]["line"]["color"]
    assert figure["layout"]["legend"]["title"] == {"text": "colour: model size"}
    assert [t["name"] for t in figure["data"] if t["showlegend"]] == ["70M parameters", "1B parameters"]


def test_the_chart_controls_are_checkboxes_grouped_by_model_not_ctrl_click_selects(client, pythia):
    response = client.get(pythia[0].get_absolute_url(), {"overlay_training": [pythia[2].pk]})
    html = response.text
    assert "<select multiple" not in html
    assert "multiple>" not in html
    assert re.search(r'<input type="checkbox" name="metric" value="\d+" checked>', html)
    assert f'<input type="checkbox" name="overlay_training" value="{pythia[2].pk}" checked>' in html
    assert "<legend>pythia-70m</legend>" in html  # the others under their model's name, the chosen one first

// Draws every chart on the page: an element with data-chart="<id>" gets the figure in <script id="<id>">.
// A figure may carry a "narrow" layout (rankings/charts.py, NARROW_WIDTH) for elements narrower than 640 px.
(function () {
  var NARROW_WIDTH = 640;
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = document.getElementById(element.dataset.chart);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      var layout = figure.layout;
      if (figure.narrow && element.clientWidth < NARROW_WIDTH) layout = Object.assign({}, layout, figure.narrow);
      element.classList.add("chart--drawn");
      window.Plotly.react(element, figure.data, layout, { responsive: true, displaylogo: false });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();

// The Pareto chart's points open their checkpoint's page (the URL is each point's customdata).
(function () {
  function link() {
    document.querySelectorAll("[data-chart-links]").forEach(function (element) {
      if (!element.on || element.dataset.linked) return;
      element.dataset.linked = "1";
      element.on("plotly_click", function (event) {
        var url = event.points.length && event.points[0].customdata;
        if (url) window.location.assign(url);
      });
    });
  }
  // charts.js draws on DOMContentLoaded; this script comes after it, so the chart exists by then.
  document.addEventListener("DOMContentLoaded", link);
})();

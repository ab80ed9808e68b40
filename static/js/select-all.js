// The leaderboard's select-all box: checks or unchecks every compare box of the table it heads. Shown only when this
// script runs (the box is `hidden` in the HTML). Listeners sit on the document, so tables htmx swaps in work too.
(function () {
  "use strict";

  function boxesOf(selectAll) {
    const table = selectAll.closest("table");
    const name = selectAll.dataset.selects;
    return table ? Array.from(table.querySelectorAll(`tbody input[type=checkbox][name="${name}"]`)) : [];
  }

  function reveal(root) {
    root.querySelectorAll("input.select-all[hidden]").forEach((box) => {
      box.hidden = false;
      sync(box);
    });
  }

  // The header box reads checked when every row is, and half-checked when some are.
  function sync(selectAll) {
    const boxes = boxesOf(selectAll);
    const checked = boxes.filter((box) => box.checked).length;
    selectAll.checked = boxes.length > 0 && checked === boxes.length;
    selectAll.indeterminate = checked > 0 && checked < boxes.length;
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("input.select-all")) {
      boxesOf(target).forEach((box) => {
        box.checked = target.checked;
      });
      return;
    }
    const selectAll = target.closest("table")?.querySelector("input.select-all");
    if (selectAll && target.matches(`input[name="${selectAll.dataset.selects}"]`)) sync(selectAll);
  });

  document.addEventListener("htmx:afterSettle", (event) => reveal(event.target));
  reveal(document);
})();

// The ranking controls, improved where JavaScript runs; without it they are plain checkboxes and an Apply button.
// - Pickers (CheckboxPicker) get their filter box: typing hides the options that do not match.
// - A pin toggle (in a table row, tied to the ranking form by form="…") sends that form, as a change inside it
//   does: htmx listens to the form's own events only.
(function () {
  function words(text) {
    return text.toLowerCase().split(/\s+/).filter(Boolean);
  }

  function filterPicker(box) {
    var picker = box.closest("[data-picker]");
    var wanted = words(box.value);
    var any = false;
    picker.querySelectorAll(".picker__option").forEach(function (option) {
      var text = option.textContent.toLowerCase();
      var match = wanted.every(function (word) { return text.indexOf(word) !== -1; });
      option.hidden = !match;
      any = any || match;
    });
    picker.querySelectorAll(".picker__group").forEach(function (group) {
      group.hidden = !group.querySelector(".picker__option:not([hidden])");
    });
    picker.querySelector(".picker__none").hidden = any;
  }

  function countChosen(picker) {
    var count = picker.querySelector(".picker__count");
    var boxes = picker.querySelectorAll("input[type=checkbox]");
    var chosen = picker.querySelectorAll("input[type=checkbox]:checked").length;
    count.textContent = count.textContent.replace(/^\d+ of \d+/, chosen + " of " + boxes.length);
  }

  function setUp() {
    document.querySelectorAll("[data-picker-filter]").forEach(function (box) {
      box.hidden = false;
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-picker-filter]")) filterPicker(event.target);
  });
  document.addEventListener(
    "change",
    function (event) {
      var target = event.target;
      // The filter box is not a setting: its change must not send the form.
      if (target.matches("[data-picker-filter]")) {
        event.stopPropagation();
        return;
      }
      var picker = target.closest("[data-picker]");
      if (picker) countChosen(picker);
      if (target.matches(".pin-toggle") && target.form) target.form.requestSubmit();
    },
    true
  );
  document.addEventListener(
    "keydown",
    function (event) {
      // Enter in a filter box filters; it does not apply the form.
      if (event.key === "Enter" && event.target.matches("[data-picker-filter]")) event.preventDefault();
    },
    true
  );
  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("htmx:afterSettle", setUp);
})();

// The card browser: "select every card on this page", and a tag chip that filters through
// the filter form (so the Tag field shows it and the other filters keep it). Everything
// else on these pages is a plain link or form (htmx swaps the results region), so they
// work without this file.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var chip = event.target.closest && event.target.closest("a.tag[data-tag]");
    var field = document.querySelector('form.filters input[name="tag"]');
    if (!chip || !field || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    field.value = chip.dataset.tag;
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-page]");
    if (!all) return;
    var form = all.closest("form");
    form.querySelectorAll('input[name="ids"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();

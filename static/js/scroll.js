// A box of wide math or a table that scrolls sideways gets focus, a role and a name, so a
// keyboard can scroll it too; boxes that fit stay out of the tab order.
(function () {
  "use strict";

  function mark(root) {
    (root || document).querySelectorAll(".prose .scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", box.querySelector("table") ? "Table, scrolls sideways" : "Formula, scrolls sideways");
      } else if (box.hasAttribute("tabindex")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }

  var pending = 0;
  function later() {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () { mark(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", later);
  else later();
  document.addEventListener("htmx:afterSettle", later);
  window.addEventListener("resize", later);
  // A revealed answer was hidden (no width) when the page loaded.
  new MutationObserver(later).observe(document.documentElement, {
    subtree: true, attributes: true, attributeFilter: ["hidden", "data-revealed"],
  });
})();

// The drill's keyboard: Space/Enter reveal, 0-5 grade (1-4 and Space for Good with four
// buttons), U undo, E edit, S suspend,
// B bury, H history, ? shortcuts. Everything it does is also a plain link or form, so the page
// works without this file; htmx swaps #drill and these handlers are delegated.
(function () {
  "use strict";

  function drill() { return document.getElementById("drill"); }

  function typing(event) {
    var el = event.target;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function reveal() {
    var card = document.getElementById("card");
    if (!card || card.dataset.revealed === "true") return false;
    var answer = card.querySelector(".answer");
    var button = card.querySelector("[data-reveal]");
    if (!answer) return false;
    answer.hidden = false;
    card.dataset.revealed = "true";
    if (button) button.remove();
    // Focus the answer, not a grade button: the Space that revealed it would otherwise
    // "click" the focused button on key-up.
    answer.setAttribute("tabindex", "-1");
    answer.focus({ preventScroll: true });
    return true;
  }

  function click(selector) {
    var root = drill();
    var el = root && root.querySelector(selector);
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-reveal]");
    if (target) { event.preventDefault(); reveal(); return; }
    // A tap anywhere on a hidden card's text reveals it (links and buttons keep theirs).
    var card = event.target.closest && event.target.closest("#card[data-revealed=false]");
    if (card && !event.target.closest("a, button, input, select, textarea, .card-actions, .scroll")) {
      reveal();
    }
    var open = event.target.closest && event.target.closest("[data-shortcuts]");
    if (open) { event.preventDefault(); document.getElementById("shortcuts").showModal(); }
  });

  // While a request is in flight, and until htmx has wired up the card it swapped in,
  // keys are ignored: a fast second key must not grade twice or submit an unwired form.
  var root = document.documentElement;
  document.addEventListener("htmx:beforeRequest", function () { root.dataset.busy = "1"; });
  document.addEventListener("htmx:afterSettle", function () { delete root.dataset.busy; });
  document.addEventListener("htmx:responseError", function () { delete root.dataset.busy; });
  document.addEventListener("htmx:sendError", function () { delete root.dataset.busy; });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (root.dataset.busy) { event.preventDefault(); return; }
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    var card = document.getElementById("card");
    var key = event.key;
    var handled = false;
    if (key === "?") {
      if (dialog) { dialog.showModal(); handled = true; }
    } else if ((key === " " || key === "Enter") && card && card.dataset.revealed !== "true") {
      handled = reveal();
    } else if ((key === " " || key === "Enter") && card && drill().dataset.grading === "four") {
      handled = click('.grade[data-grade="4"]');  // after the answer, Space is Good
    } else if (/^[0-5]$/.test(key) && card && card.dataset.revealed === "true") {
      handled = click('.grade[data-key="' + key + '"]');
    } else if (key === "u" || key === "U") {
      handled = click('[data-action="undo"]');
    } else if ((key === "e" || key === "E") && card) {
      handled = click('[data-action="edit"]');
    } else if ((key === "s" || key === "S") && card) {
      handled = click('[data-action="suspend"]');
    } else if ((key === "b" || key === "B") && card) {
      handled = click('[data-action="bury"]');
    } else if ((key === "h" || key === "H") && card) {
      handled = click('[data-action="history"]');
    }
    if (handled) event.preventDefault();
  });

  // After a swap, put focus where the keyboard user expects it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "drill") {
      var reveal = document.querySelector("#drill [data-reveal]");
      if (reveal) reveal.focus({ preventScroll: true });
      window.scrollTo({ top: 0 });
    }
  });
})();

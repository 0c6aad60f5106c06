// A mock session: the phase clock, and the notes' safety net around htmx's autosave.
// Without this file the page still works: time boxes are printed, forms post, the server
// keeps the clock. With it: a live clock with a gentle cue on overrun, a saved-status
// line, a copy of unsaved text in this browser, and a choice when another tab saved first.
(function () {
  "use strict";

  // --- The clock ---------------------------------------------------------------------
  var ticking = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function show(seconds) { return Math.floor(seconds / 60) + ":" + pad(seconds % 60); }

  function startClock() {
    if (ticking) { clearInterval(ticking); ticking = null; }
    var timer = document.getElementById("timer");
    if (!timer) return;
    var elapsed = parseInt(timer.dataset.elapsed, 10) || 0;
    var limit = (parseInt(timer.dataset.limit, 10) || 0) * 60;
    var running = timer.dataset.running === "1";
    var clock = timer.querySelector(".clock");
    var bar = timer.querySelector(".time-used");
    var cue = timer.querySelector(".cue");
    var origin = Date.now() - elapsed * 1000;
    var cued = timer.classList.contains("over");

    function render() {
      var now = running ? Math.floor((Date.now() - origin) / 1000) : elapsed;
      clock.textContent = show(now);
      if (bar) bar.value = Math.min(now, limit);
      if (running && limit && now > limit && !cued) {
        cued = true;
        timer.classList.add("over");
        cue.textContent = "Past this phase's time box: wrap up when you are ready and move on.";
      }
    }
    render();
    if (running) ticking = setInterval(render, 1000);
  }

  // --- The notes ---------------------------------------------------------------------
  var form = document.getElementById("notes-form");
  var box = document.getElementById("notes");
  var inFlight = 0;
  var pendingSubmit = null;
  var sentText = null;
  var dirty = false;
  var draftKey = form ? "cadence-mock-" + form.dataset.session + "-" + form.dataset.phase : "";

  function version() { return parseInt(document.getElementById("note-version").value, 10) || 0; }
  function setVersion(v) { document.getElementById("note-version").value = String(v); }

  function keepDraft() {
    try { localStorage.setItem(draftKey, JSON.stringify({ text: box.value, base: version() })); }
    catch (e) { /* private mode or full: the server copy is the safety net */ }
  }
  function dropDraft() { try { localStorage.removeItem(draftKey); } catch (e) { /* ignore */ } }
  function readDraft() {
    try { return JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { return null; }
  }
  function status(html) {
    var line = document.getElementById("save-status");
    if (line) line.innerHTML = html;
  }
  function save() { htmx.trigger(box, "cadence:save"); }
  function fromBox(event) {
    var d = event.detail || {};
    return d.elt === box || (d.requestConfig && d.requestConfig.elt === box);
  }

  if (form && box) {
    // Text this browser kept but the server never got (a lost connection, a closed tab).
    var draft = readDraft();
    if (draft && draft.text !== box.value) {
      if (draft.base === version()) {
        box.value = draft.text;
        dirty = true;
        save();
      } else {
        status('<p>This browser kept text from an earlier visit that differs from the saved notes.</p>' +
               '<p class="actions left"><button type="button" data-restore>Put it back in the box</button> ' +
               '<button type="button" data-discard>Discard it</button></p>');
      }
    } else if (draft) {
      dropDraft();
    }

    box.addEventListener("input", function () {
      dirty = true;
      keepDraft();
      var line = document.getElementById("save-status");
      if (line && !line.classList.contains("conflict")) status('<span class="muted">Saving…</span>');
    });

    document.addEventListener("htmx:configRequest", function (event) {
      if (fromBox(event)) sentText = event.detail.parameters.get
        ? event.detail.parameters.get("text") : event.detail.parameters.text;
    });
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (fromBox(event)) inFlight += 1;
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      if (!fromBox(event)) return;
      inFlight = Math.max(inFlight - 1, 0);
      var ok = event.detail.xhr && event.detail.xhr.status === 200;
      if (ok && box.value === sentText) { dirty = false; dropDraft(); }
      else if (ok) { keepDraft(); }
      if (!event.detail.xhr || event.detail.xhr.status === 0) {
        status('<span class="error">Not saved: no connection. Your text is kept in this browser and will be saved when you type again.</span>');
      }
      if (inFlight === 0 && pendingSubmit) {
        var submitter = pendingSubmit;
        pendingSubmit = null;
        form.requestSubmit(submitter);
      }
    });
    // A conflict (409) and a refusal (400) carry a message to show, not an error page.
    document.addEventListener("htmx:beforeSwap", function (event) {
      if (fromBox(event) && (event.detail.xhr.status === 409 || event.detail.xhr.status === 400)) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });

    // Changing phase or finishing waits for an autosave in flight, so that the form
    // names the version that save produced.
    form.addEventListener("submit", function (event) {
      if (inFlight > 0) {
        event.preventDefault();
        pendingSubmit = event.submitter || null;
        status('<span class="muted">Saving…</span>');
      } else {
        // The form carries the text: no last-moment save needed when the page goes.
        keepDraft();
        dirty = false;
      }
    });

    document.addEventListener("click", function (event) {
      var t = event.target;
      if (t.closest("[data-keep-mine]")) {
        var line = document.getElementById("save-status");
        setVersion(parseInt(line.dataset.conflictVersion, 10));
        line.classList.remove("conflict");
        keepDraft();
        save();
      } else if (t.closest("[data-use-saved]")) {
        var saved = document.querySelector("[data-saved-text]");
        var current = document.getElementById("save-status");
        box.value = saved ? saved.value : box.value;
        setVersion(parseInt(current.dataset.conflictVersion, 10));
        dirty = false;
        dropDraft();
        status('<span class="saved">Showing the saved text.</span>');
        current.classList.remove("conflict");
      } else if (t.closest("[data-restore]")) {
        var kept = readDraft();
        if (kept) { box.value = kept.text; keepDraft(); save(); }
      } else if (t.closest("[data-discard]")) {
        dropDraft();
        status('<span class="muted">Discarded.</span>');
      }
    });

    // Leaving the page with unsaved text: one last save the browser sends on its own.
    window.addEventListener("pagehide", function () {
      if (!dirty || !navigator.sendBeacon) return;
      keepDraft();
      navigator.sendBeacon(form.getAttribute("action"), new FormData(form));
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "timer") startClock();
  });
  startClock();
})();

// Time zone lists: the browser's own zone goes first, in a group of its own; on the
// sign-up form it is also preselected (the person can change it). A search box above
// each list narrows it to the zones whose city, region or name holds what is typed.
// Without this file the plain grouped select works as it is.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) { zone = ""; /* an old browser keeps the list as it is */ }

  function browserZoneFirst(select) {
    if (!zone) return;
    var group = document.createElement("optgroup");
    group.label = "Your browser's zone";
    var option = document.createElement("option");
    option.value = zone;
    option.textContent = zone.replace(/_/g, " ");
    group.appendChild(option);
    select.insertBefore(group, select.firstChild);
    if (select.dataset.timeZone === "guess" && !select.dataset.touched && select.value === "UTC") {
      select.value = zone;
    }
  }

  function words(text) {
    return text.toLowerCase().replace(/[_/]+/g, " ").replace(/\s+/g, " ").trim();
  }

  function searchBox(select, index) {
    var id = (select.id || "time-zone-" + index) + "-search";
    var status = document.createElement("small");
    status.className = "help zone-search-status";
    status.id = id + "-status";
    status.setAttribute("aria-live", "polite");
    var search = document.createElement("input");
    search.type = "search";
    search.id = id;
    search.className = "zone-search";
    search.placeholder = "Search zones: a city, a region";
    search.autocomplete = "off";
    search.setAttribute("aria-label", "Search time zones");
    search.setAttribute("aria-controls", select.id);
    search.setAttribute("aria-describedby", status.id);
    select.parentNode.insertBefore(search, select);
    select.parentNode.insertBefore(status, select.nextSibling);

    var options = Array.prototype.slice.call(select.options).map(function (option) {
      var group = option.parentNode.tagName === "OPTGROUP" ? option.parentNode.label : "";
      return { option: option, text: words(option.value + " " + option.textContent + " " + group) };
    });

    function filter() {
      var query = words(search.value);
      var first = null;
      var shown = 0;
      options.forEach(function (entry) {
        var match = !query || entry.text.indexOf(query) !== -1;
        entry.option.hidden = !match;
        entry.option.disabled = !match;
        if (match) {
          shown += 1;
          if (!first) first = entry.option;
        }
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
      var current = select.options[select.selectedIndex];
      if (query && first && (!current || current.hidden)) {
        // What the form would send must be one of the zones on show.
        select.value = first.value;
        select.dataset.touched = "1";
      }
      status.textContent = !query ? "" : shown === 0
        ? "No zone matches “" + search.value + "”; the list is unchanged."
        : shown + " zone" + (shown === 1 ? "" : "s") + " match: " + select.value.replace(/_/g, " ") + " is chosen.";
      if (query && shown === 0) {
        options.forEach(function (entry) { entry.option.hidden = false; entry.option.disabled = false; });
        Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) { group.hidden = false; });
      }
    }

    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (event) {
      // Enter picks the list, not the form: the person checks the zone before saving.
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }
      if (event.key === "ArrowDown") { event.preventDefault(); select.focus(); }
    });
    select.addEventListener("change", function () { select.dataset.touched = "1"; });
  }

  document.querySelectorAll("select[data-time-zone]").forEach(function (select, index) {
    browserZoneFirst(select);
    searchBox(select, index);
  });
})();

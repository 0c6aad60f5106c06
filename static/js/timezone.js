// Time zone lists: the browser's own zone goes first, in a group of its own; on the
// sign-up form it is also preselected (the person can change it).
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) { return; /* an old browser keeps the list as it is */ }
  if (!zone) return;
  document.querySelectorAll("select[data-time-zone]").forEach(function (select) {
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
  });
})();

/* A link to one license in the grid (#license-<key>, from the expiring worklist) scrolls to
 * its row, highlights it and puts the focus in its first cell (or on the row itself when the
 * grid is read-only). Without script the grid simply opens at the top. */
(function () {
  "use strict";

  function showTarget() {
    var match = /^#license-(\d+)$/.exec(window.location.hash);
    if (!match) { return; }
    var row = document.querySelector('tr[data-license-key="' + match[1] + '"]');
    if (!row) { return; }
    var previous = document.querySelectorAll("tr.is-target");
    for (var i = 0; i < previous.length; i++) { previous[i].classList.remove("is-target"); }
    row.classList.add("is-target");
    var cell = row.querySelector("input:not([type=hidden]), select");
    if (!cell) {
      row.setAttribute("tabindex", "-1");
      cell = row;
    }
    cell.focus({ preventScroll: true });
    row.scrollIntoView({ block: "center" });
  }

  showTarget();
  window.addEventListener("hashchange", showTarget);
})();

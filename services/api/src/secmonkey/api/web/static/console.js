// secmonkey console: the little behaviour htmx does not cover. No inline script anywhere
// (the Content-Security-Policy forbids it); everything works without JavaScript too.
(function () {
  "use strict";
  // Forms marked data-confirm ask before they post (deleting, revoking).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // A new API key is selected so that it can be copied at once.
  document.addEventListener("DOMContentLoaded", function () {
    var key = document.getElementById("new-key");
    if (key) { key.focus(); key.select(); }
  });
  // After htmx swaps in a notice (a justified issue), move keyboard focus to it.
  document.addEventListener("htmx:afterSettle", function () {
    var notice = document.querySelector("[data-focus]");
    if (notice) { notice.removeAttribute("data-focus"); notice.focus(); }
  });
})();

// imagequota operator console: the little the pages do in the browser.
// Forms that change something hard to undo ask first (data-confirm).
"use strict";
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var q = form && form.getAttribute && form.getAttribute("data-confirm");
  if (q && !window.confirm(q)) {
    ev.preventDefault();
  }
});

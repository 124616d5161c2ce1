/* A form marked data-submit-once is sent once: a second click on its button (or Enter) while
 * the first submission is on its way does nothing. Without it a double-click on Log in sends
 * two logins, and the second is refused while the first one is being checked. A page shown
 * again from the back/forward cache may be sent again. */
(function () {
  "use strict";

  var forms = document.querySelectorAll("form[data-submit-once]");
  Array.prototype.forEach.call(forms, function (form) {
    var sent = false;
    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
    });
    window.addEventListener("pageshow", function () { sent = false; });
  });
})();

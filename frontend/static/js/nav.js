// The hospital switcher submits on change; its button stays for keyboards without JS.
(function () {
  "use strict";
  var select = document.querySelector("select[data-autosubmit]");
  if (!select) return;
  select.form.querySelector(".switch-button").hidden = true;
  select.addEventListener("change", function () { select.form.submit(); });
})();

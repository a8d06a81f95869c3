/* Report page, review panel, rule form: send [data-api-form] forms as JSON (POST, or the
 * form's data-method) with the CSRF token; reload on success, show the API's {"message", "extra"} on failure (409: with a reload link).
 * Dependency-free; safe to load twice (the viewer and the report page both include it). */
(function () {
  "use strict";
  if (window.ctReportFormsReady) { return; }
  window.ctReportFormsReady = true;

  var INTEGER_FIELDS = { expected_version: true, care_severity_threshold: true, critical_severity_threshold: true };
  var FLOAT_FIELDS = { care_probability_threshold: true, test_probability_threshold: true };

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) { return input.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function formPayload(form) {
    var payload = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken") { return; }
      if (value === "" && name !== "comment" && name !== "reason" && name !== "note") { return; }
      payload[name] = INTEGER_FIELDS[name] ? parseInt(value, 10) : FLOAT_FIELDS[name] ? parseFloat(value) : value;
    });
    return payload;
  }

  function describeError(body) {
    if (!body || typeof body.message !== "string") { return "The request failed; please try again."; }
    var fields = body.extra && body.extra.fields;
    if (!fields) { return body.message; }
    var parts = Object.keys(fields).map(function (name) {
      var value = fields[name];
      return name + ": " + (Array.isArray(value) ? value.join(" ") : String(value));
    });
    return body.message + " " + parts.join("; ");
  }

  function showError(form, text, offerReload) {
    var box = form.querySelector("[data-form-error]");
    if (!box) { window.alert(text); return; }
    box.textContent = text + " ";
    if (offerReload) {
      var link = document.createElement("a");
      link.href = window.location.href;
      link.textContent = "Reload";
      box.appendChild(link);
    }
    box.hidden = false;
  }

  function submit(event) {
    var form = event.target.closest("form[data-api-form]");
    if (!form) { return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var box = form.querySelector("[data-form-error]");
    if (box) { box.hidden = true; }
    fetch(form.getAttribute("action"), {
      method: form.getAttribute("data-method") || "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken(form) },
      body: JSON.stringify(formPayload(form))
    }).then(function (response) {
      if (response.ok) { window.location.reload(); return null; }
      return response.json().catch(function () { return null; }).then(function (body) {
        showError(form, describeError(body), response.status === 409);
        if (button) { button.disabled = false; }
      });
    }).catch(function () {
      showError(form, "The server could not be reached; your entry was not saved.", false);
      if (button) { button.disabled = false; }
    });
  }

  document.addEventListener("submit", submit);
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });
})();

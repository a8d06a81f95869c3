// Fill the dashboard's worker status from /api/health/ (the page itself never waits for the broker).
(function () {
  "use strict";
  var target = document.getElementById("worker-status");
  if (!target) { return; }
  fetch(target.dataset.healthUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (body) {
      var worker = body.worker || { ok: false, detail: "unknown" };
      target.textContent = (worker.ok ? "OK — " : "Problem — ") + worker.detail;
      target.className = worker.ok ? "ok" : "error";
    })
    .catch(function () { target.textContent = "Health check unavailable"; target.className = "error"; });
})();

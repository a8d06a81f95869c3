// Worklist: keyboard selection (j/k, Enter) and live refresh without reload.
// The page polls the ETag'd version endpoint; on a change it fetches the rows partial of the
// same URL and swaps the table body, keeping the selected study selected.
(function () {
  "use strict";
  var table = document.getElementById("worklist");
  if (!table) { return; }
  var pollMs = parseInt(table.dataset.pollMs, 10) || 5000;
  var versionUrl = table.dataset.versionUrl;
  var etag = null;
  var selected = null; // study uuid

  function rows() { return Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-study]")); }

  function select(row, focus) {
    rows().forEach(function (r) { r.removeAttribute("aria-current"); r.classList.remove("selected"); });
    if (!row) { selected = null; return; }
    row.setAttribute("aria-current", "true");
    row.classList.add("selected");
    selected = row.dataset.study;
    var link = row.querySelector("a.open-study");
    if (focus && link) { link.focus(); }
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var i = all.findIndex(function (r) { return r.dataset.study === selected; });
    i = i < 0 ? 0 : Math.max(0, Math.min(all.length - 1, i + step));
    select(all[i], true);
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter" && selected && tag !== "a" && tag !== "button") {
      var row = table.querySelector('tr[data-study="' + selected + '"]');
      if (row) { window.location.assign(row.dataset.href); event.preventDefault(); }
    }
  });

  table.addEventListener("click", function (event) {
    var row = event.target.closest("tr[data-study]");
    if (row) { select(row, false); }
  });

  function partialUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "rows");
    return url.toString();
  }

  function refreshRows() {
    return fetch(partialUrl(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("worklist-rows");
        var current = document.getElementById("worklist-rows");
        if (!fresh || !current) { return; }
        current.replaceWith(document.importNode(fresh, true));
        document.getElementById("worklist-count").textContent = fresh.dataset.count;
        document.getElementById("worklist-overdue").textContent = fresh.dataset.overdueCount;
        var again = selected && table.querySelector('tr[data-study="' + selected + '"]');
        select(again || null, false);
        table.dataset.refreshedAt = String(Date.now());
      });
  }

  function poll() {
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(versionUrl, { credentials: "same-origin", headers: headers })
      .then(function (response) {
        if (response.status === 200) {
          var first = etag === null;
          etag = response.headers.get("ETag");
          table.dataset.etag = etag || "";
          if (!first) { return refreshRows(); }
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  var first = rows()[0];
  if (first) { select(first, false); }
  window.setTimeout(poll, 0);
}());

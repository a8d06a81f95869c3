// Upload page: collect files (pickers, drag and drop of files and folders), send them in
// batches to POST /api/studies/ with XMLHttpRequest (for upload progress), show per-file results.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const apiUrl = form.dataset.apiUrl;
  const batchFiles = parseInt(form.dataset.batchFiles, 10) || 50;
  const batchBytes = parseInt(form.dataset.batchBytes, 10) || 64 * 1024 * 1024;
  const maxBytes = parseInt(form.dataset.uploadMaxBytes, 10) || Infinity;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const hospital = document.getElementById("upload-hospital");
  const dropZone = document.getElementById("drop-zone");
  const fileInput = document.getElementById("upload-files");
  const folderInput = document.getElementById("upload-folder");
  const selection = document.getElementById("upload-selection");
  const submit = document.getElementById("upload-submit");
  const progress = document.getElementById("upload-progress");
  const statusText = document.getElementById("upload-status");
  const summary = document.getElementById("upload-summary");
  const note = document.getElementById("upload-note");
  const table = document.getElementById("upload-results");
  const tbody = table.querySelector("tbody");

  let chosen = []; // {file, name}

  function setChosen(entries) {
    chosen = entries;
    const total = chosen.reduce((sum, e) => sum + e.file.size, 0);
    selection.textContent = chosen.length
      ? `${chosen.length} file(s) chosen, ${(total / 1048576).toFixed(1)} MB.`
      : "No files chosen.";
    submit.disabled = chosen.length === 0;
  }

  function fromFileList(list) {
    return Array.from(list).map((file) => ({ file, name: file.webkitRelativePath || file.name }));
  }

  fileInput.addEventListener("change", () => setChosen(fromFileList(fileInput.files)));
  folderInput.addEventListener("change", () => setChosen(fromFileList(folderInput.files)));

  // Folders dropped onto the page: walk them with the FileSystem entry API.
  function readEntry(entry, path) {
    if (entry.isFile) {
      return new Promise((resolve) => entry.file(
        (file) => resolve([{ file, name: path + file.name }]), () => resolve([])));
    }
    if (!entry.isDirectory) return Promise.resolve([]);
    const reader = entry.createReader();
    const all = [];
    return new Promise((resolve) => {
      const readBatch = () => reader.readEntries((entries) => {
        if (!entries.length) {
          Promise.all(all).then((lists) => resolve(lists.flat()));
          return;
        }
        entries.forEach((child) => all.push(readEntry(child, path + entry.name + "/")));
        readBatch(); // readEntries returns at most ~100 entries per call
      }, () => resolve([]));
      readBatch();
    });
  }

  ["dragenter", "dragover"].forEach((type) => dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropZone.addEventListener(type, () => dropZone.classList.remove("dragging")));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    const items = Array.from(event.dataTransfer.items || []);
    const entries = items.map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
    if (entries.length) {
      Promise.all(entries.map((entry) => readEntry(entry, ""))).then((lists) => setChosen(lists.flat()));
    } else {
      setChosen(fromFileList(event.dataTransfer.files));
    }
  });
  dropZone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); fileInput.click(); }
  });

  // Batches: at most batchFiles files / batchBytes bytes; a zip travels alone.
  function makeBatches(entries) {
    const batches = [];
    let current = [], bytes = 0;
    entries.forEach((entry) => {
      const isZip = /\.zip$/i.test(entry.name);
      if (current.length && (isZip || current.length >= batchFiles || bytes + entry.file.size > batchBytes)) {
        batches.push(current); current = []; bytes = 0;
      }
      current.push(entry); bytes += entry.file.size;
      if (isZip) { batches.push(current); current = []; bytes = 0; }
    });
    if (current.length) batches.push(current);
    return batches;
  }

  const urlFor = (template, uuid) => template.replace(PLACEHOLDER, uuid);
  const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
  const studyList = document.getElementById("upload-studies");
  // A received study waits until no image came for the stable age (triage/studies/stability.py).
  const stableAgeS = parseInt(studyList.dataset.stableAgeS, 10) || 0;
  const STATES = { received: stableAgeS ? `Received; analysis starts ${stableAgeS} s after the last image`
                                        : "Received",
                   queued: "Queued for analysis", processing: "Analysing",
                   ready: "Ready", failed: "Failed" };
  const FINAL = new Set(["ready", "failed"]);
  const pollMs = parseInt(studyList.dataset.pollMs, 10) || 2000;

  function studyLink(uuid, text) {
    const link = document.createElement("a");
    link.href = urlFor(studyList.dataset.viewerUrl, uuid);
    link.textContent = text;
    return link;
  }

  function addRow(name, status, reason, study) {
    const row = tbody.insertRow();
    row.insertCell().textContent = name;
    const cell = row.insertCell();
    cell.textContent = status;
    cell.className = "result-" + status;
    row.insertCell().textContent = reason || "";
    const studyCell = row.insertCell();
    if (study) studyCell.appendChild(studyLink(study, "Open study"));
    table.hidden = false;
  }

  // One line per study the upload touched, with its analysis state polled live (queued -> ready).
  function showStudies(uuids) {
    studyList.textContent = "";
    uuids.forEach((uuid) => {
      const item = document.createElement("li");
      item.dataset.study = uuid;
      item.appendChild(studyLink(uuid, "Study"));
      const state = document.createElement("span");
      state.className = "study-state";
      state.textContent = "…";
      item.append(" ", state, " ");
      const report = document.createElement("a");
      report.href = urlFor(studyList.dataset.reportUrl, uuid);
      report.textContent = "Report";
      item.appendChild(report);
      studyList.appendChild(item);
    });
    studyList.hidden = !uuids.length;
    poll(uuids);
  }

  function poll(uuids) {
    const pending = uuids.filter((uuid) => {
      const item = studyList.querySelector(`li[data-study="${uuid}"]`);
      return item && !FINAL.has(item.dataset.status);
    });
    if (!pending.length) return;
    Promise.all(pending.map((uuid) => fetch(urlFor(studyList.dataset.detailUrl, uuid),
      { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null)).catch(() => null)
      .then((study) => {
        if (!study) return;
        const item = studyList.querySelector(`li[data-study="${uuid}"]`);
        item.dataset.status = study.status;
        item.querySelector("a").textContent = "Study " + (study.accession_number || uuid.slice(0, 8));
        const state = item.querySelector(".study-state");
        state.textContent = STATES[study.status] || study.status;
        state.className = "study-state state-" + study.status;
        if (study.status === "failed" && study.failure_reason) state.title = study.failure_reason;
      }))).then(() => setTimeout(() => poll(uuids), pollMs));
  }

  // Leaving mid-upload would cut the study short: ask first.
  let uploading = false;
  window.addEventListener("beforeunload", (event) => {
    if (!uploading) return;
    event.preventDefault();
    event.returnValue = "";
  });

  function sendBatch(batch, sentBefore, totalBytes) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("hospital", hospital.value);
      data.append("source", "web");
      batch.forEach((entry) => data.append("files", entry.file, entry.name.split("/").pop()));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", apiUrl);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const batchSize = batch.reduce((s, e) => s + e.file.size, 0);
        const done = sentBefore + batchSize * (event.loaded / event.total);
        const pct = Math.min(100, Math.round((100 * done) / totalBytes));
        progress.value = pct;
        progress.textContent = pct + "%";
        statusText.textContent = pct + "% sent";
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { message: "Unexpected server response." }; }
        const files = body.files || (body.extra && body.extra.files);
        if (files) {
          files.forEach((f) => addRow(f.name, f.status, f.reason, f.study));
        } else {
          batch.forEach((entry) => addRow(entry.name, "rejected", body.message || `HTTP ${xhr.status}`, null));
        }
        const extraNote = body.note || (body.extra && body.extra.note);
        resolve({ files: files || [], note: extraNote || "", studies: body.studies || (body.extra && body.extra.studies) || [] });
      });
      xhr.addEventListener("error", () => {
        batch.forEach((entry) => addRow(entry.name, "rejected", "Network error: the upload did not reach the server.", null));
        resolve({ files: [], note: "", studies: [] });
      });
      xhr.send(data);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosen.length) return;
    submit.disabled = true;
    uploading = true;
    tbody.textContent = "";
    note.hidden = true;
    const totalBytes = chosen.reduce((sum, e) => sum + e.file.size, 0) || 1;
    const counts = { accepted: 0, duplicate: 0, rejected: 0 };
    const studies = new Set();
    let sent = 0;
    const tooBig = chosen.filter((e) => e.file.size > maxBytes);
    tooBig.forEach((e) => { addRow(e.name, "rejected", "File is larger than the upload limit.", null); counts.rejected += 1; });
    for (const batch of makeBatches(chosen.filter((e) => e.file.size <= maxBytes))) {
      const result = await sendBatch(batch, sent, totalBytes);
      sent += batch.reduce((s, e) => s + e.file.size, 0);
      result.files.forEach((f) => { counts[f.status] = (counts[f.status] || 0) + 1; });
      if (!result.files.length) counts.rejected += batch.length;
      result.studies.forEach((s) => studies.add(s));
      if (result.note) { note.textContent = result.note; note.hidden = false; }
    }
    uploading = false;
    progress.value = 100;
    statusText.textContent = "Done";
    showStudies(Array.from(studies));
    summary.textContent = `${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.rejected} rejected; ` +
      `${studies.size} stud${studies.size === 1 ? "y" : "ies"}.`;
    submit.disabled = false;
  });
})();

// Study viewer: slice scrolling (wheel, keys, slider), window presets and free window,
// Grad-CAM heatmap re-blended client-side (inferno colours, adjustable opacity), lesion
// outlines, and a per-slice probability strip that jumps to slices on click.
(function () {
  "use strict";
  var configNode = document.getElementById("viewer-config");
  var image = document.getElementById("slice-image");
  if (!configNode || !image) { return; }
  var config = JSON.parse(configNode.textContent);
  var count = config.sliceCount;
  var sliceBase = config.sliceUrl.replace(/\/slices\/0\.png$/, "/slices/");
  var overlayBase = config.overlayUrl.replace(/\/overlays\/0\/gradcam\.png$/, "/overlays/");
  var overlaysBySlice = {};
  config.overlays.forEach(function (o) { (overlaysBySlice[o.slice_index] = overlaysBySlice[o.slice_index] || {})[o.kind] = o; });
  var keyIndices = config.keySlices.map(function (k) { return k.index; });
  var state = { index: 0, wl: config.windows.lung[0], ww: config.windows.lung[1], gradcam: false, lesion: false, opacity: 0.5 };

  var stage = document.getElementById("stage");
  var slider = document.getElementById("slice-slider");
  var label = document.getElementById("slice-label");
  var heatLayer = document.getElementById("heatmap-layer");
  var lesionLayer = document.getElementById("lesion-layer");
  var overlayStatus = document.getElementById("overlay-status");
  var strip = document.getElementById("prob-strip");
  var level = document.getElementById("window-level");
  var width = document.getElementById("window-width");

  // The server's heatmap colour map (256 RGB entries) and its stops for the colour bar: one map.
  var COLOURS = config.colormap.lut;
  function inferno(v) { return COLOURS[v]; }
  var ramp = document.querySelector(".colour-bar .ramp");
  if (ramp) { ramp.style.background = "linear-gradient(90deg, " + config.colormap.stops.join(", ") + ")"; }

  function sliceUrl(i) { return sliceBase + i + ".png?wl=" + encodeURIComponent(state.wl) + "&ww=" + encodeURIComponent(state.ww); }
  function overlayUrl(i, kind) { return overlayBase + i + "/" + kind + ".png"; }

  function loadPixels(url, transform, canvas, done) {
    var source = new Image();
    source.onload = function () {
      canvas.width = source.naturalWidth; canvas.height = source.naturalHeight;
      var ctx = canvas.getContext("2d");
      ctx.drawImage(source, 0, 0);
      var pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      transform(pixels.data);
      ctx.putImageData(pixels, 0, 0);
      done(true);
    };
    source.onerror = function () { done(false); };
    source.src = url;
  }

  function colourise(data) {  // grey heatmap -> inferno, transparent where the heatmap is 0
    for (var p = 0; p < data.length; p += 4) {
      var value = data[p], rgb = inferno(value);
      data[p] = rgb[0]; data[p + 1] = rgb[1]; data[p + 2] = rgb[2]; data[p + 3] = value < 8 ? 0 : 255;
    }
  }

  function keepColouredPixels(data) {  // lesion PNG: grey CT becomes transparent, outlines stay
    for (var p = 0; p < data.length; p += 4) {
      var r = data[p], g = data[p + 1], b = data[p + 2];
      if (Math.abs(r - g) < 16 && Math.abs(g - b) < 16) { data[p + 3] = 0; }
    }
  }

  function showLayer(layer, on, kind, transform) {
    var available = overlaysBySlice[state.index] && overlaysBySlice[state.index][kind === "heatmap" ? "gradcam" : kind];
    layer.style.opacity = String(state.opacity);
    if (!on || !available) {
      layer.hidden = true; layer.dataset.slice = "";
      return !on || available ? "" : "no " + (kind === "heatmap" ? "Grad-CAM" : "lesion") + " overlay on this slice";
    }
    var wanted = state.index;
    loadPixels(overlayUrl(wanted, kind), transform, layer, function (ok) {
      if (wanted !== state.index) { return; }
      layer.hidden = !ok; layer.dataset.slice = ok ? String(wanted) : "";
    });
    return "";
  }

  function renderOverlays() {
    var notes = [showLayer(heatLayer, state.gradcam, "heatmap", colourise),
                 showLayer(lesionLayer, state.lesion, "lesion", keepColouredPixels)].filter(Boolean);
    overlayStatus.textContent = notes.join("; ");
  }

  function renderStrip() {
    var ticks = strip.children;
    for (var i = 0; i < ticks.length; i++) { ticks[i].classList.toggle("current", i === state.index); }
  }

  function show(index) {
    state.index = Math.max(0, Math.min(count - 1, index));
    image.src = sliceUrl(state.index);
    image.dataset.index = String(state.index);
    image.alt = "CT slice " + (state.index + 1) + " of " + count;
    slider.value = String(state.index);
    label.textContent = (state.index + 1) + " / " + count;
    renderStrip();
    renderOverlays();
    [state.index - 1, state.index + 1].forEach(function (n) { if (n >= 0 && n < count) { new Image().src = sliceUrl(n); } });
  }

  function setWindow(wl, ww) {
    if (!isFinite(wl) || !isFinite(ww) || ww < 1) { return; }
    state.wl = wl; state.ww = ww;
    level.value = String(wl); width.value = String(ww);
    document.querySelectorAll(".preset").forEach(function (b) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.wl) === wl && Number(b.dataset.ww) === ww));
    });
    show(state.index);
  }

  // Probability strip and key-slice buttons.
  for (var i = 0; i < count; i++) {
    var tick = document.createElement("span");
    var p = config.sliceProbabilities[String(i)];
    tick.className = "tick" + (keyIndices.indexOf(i) >= 0 ? " key" : "");
    tick.style.height = (p === undefined ? 2 : Math.max(4, Math.round(p * 100))) + "%";
    tick.title = "Slice " + (i + 1) + (p === undefined ? "" : ": " + Math.round(p * 100) + " %");
    tick.dataset.index = String(i);
    strip.appendChild(tick);
  }
  strip.addEventListener("click", function (event) {
    var target = event.target.closest(".tick");
    if (target) { show(Number(target.dataset.index)); return; }
    var rect = strip.getBoundingClientRect();
    show(Math.floor((event.clientX - rect.left) / rect.width * count));
  });
  var keyBox = document.getElementById("key-slices");
  config.keySlices.forEach(function (k) {  // in slice order, numbered by the server as the report numbers them
    var button = document.createElement("button");
    button.type = "button"; button.textContent = "Key slice " + k.number; button.dataset.index = String(k.index);
    button.addEventListener("click", function () { show(k.index); stage.focus(); });
    keyBox.appendChild(button);
  });

  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    if (event.deltaY !== 0) { show(state.index + (event.deltaY > 0 ? 1 : -1)); }
  }, { passive: false });
  slider.addEventListener("input", function () { show(Number(slider.value)); });
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var steps = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
    if (event.key in steps) { show(state.index + steps[event.key]); }
    else if (event.key === "Home") { show(0); }
    else if (event.key === "End") { show(count - 1); }
    else if (event.key === "l" || event.key === "L") { setWindow(config.windows.lung[0], config.windows.lung[1]); }
    else if (event.key === "m" || event.key === "M") { setWindow(config.windows.mediastinal[0], config.windows.mediastinal[1]); }
    else if (event.key === "o" || event.key === "O") { gradcamToggle.checked = !gradcamToggle.checked; gradcamToggle.dispatchEvent(new Event("change")); }
    else { return; }
    event.preventDefault();
  });
  document.querySelectorAll(".preset").forEach(function (b) {
    b.addEventListener("click", function () { setWindow(Number(b.dataset.wl), Number(b.dataset.ww)); });
  });
  document.getElementById("window-form").addEventListener("submit", function (event) {
    event.preventDefault();
    setWindow(Number(level.value), Number(width.value));
  });
  var gradcamToggle = document.getElementById("toggle-gradcam");
  var lesionToggle = document.getElementById("toggle-lesion");
  gradcamToggle.addEventListener("change", function () { state.gradcam = gradcamToggle.checked; renderOverlays(); });
  lesionToggle.addEventListener("change", function () { state.lesion = lesionToggle.checked; renderOverlays(); });
  var opacity = document.getElementById("overlay-opacity");
  opacity.addEventListener("input", function () {
    state.opacity = Number(opacity.value) / 100;
    document.getElementById("opacity-label").textContent = opacity.value + " %";
    heatLayer.style.opacity = lesionLayer.style.opacity = String(state.opacity);
  });

  var firstKey = keyIndices.length ? keyIndices[0] : 0;
  show(firstKey);
}());

// Study viewer: slice scrolling (wheel, keys, slider) head first, window presets and free window,
// Grad-CAM heatmap re-blended client-side (inferno colours, adjustable opacity), lesion outlines,
// orientation labels, and a per-slice probability strip that jumps to slices on click.
//
// Two ways to draw a slice (config.render):
// - "raw" (default): each slice arrives once as 16-bit HU (slices/<i>.i16) and is windowed here on a
//   canvas through a 64 k-entry lookup table, so a window change or a scroll to a loaded slice is
//   drawn in the same frame. All slices load in the background, nearest to the current one first.
// - "png": the server windows each slice into a PNG (slices/<i>.png?wl=&ww=); every window change
//   and every new slice is a request. Kept as the fallback and as the benchmark's baseline.
//
// Slice numbers are the stored index + 1 everywhere (viewer, report, key slices); the stack is shown
// head first, so scrolling down (wheel, ArrowDown) walks toward the feet.
(function () {
  "use strict";
  var configNode = document.getElementById("viewer-config");
  var stage = document.getElementById("stage");
  if (!configNode || !stage) { return; }
  var config = JSON.parse(configNode.textContent);
  var count = config.sliceCount;
  var raw = config.render === "raw";
  var image = document.getElementById("slice-image");
  var canvas = document.getElementById("slice-canvas");
  var sliceBase = config.sliceUrl.replace(/\/slices\/0\.png$/, "/slices/");
  var overlayBase = config.overlayUrl.replace(/\/overlays\/0\/gradcam\.png$/, "/overlays/");
  var overlaysBySlice = {};
  config.overlays.forEach(function (o) { (overlaysBySlice[o.slice_index] = overlaysBySlice[o.slice_index] || {})[o.kind] = o; });
  var keyIndices = config.keySlices.map(function (k) { return k.index; });
  var state = { index: 0, wl: config.windows.lung[0], ww: config.windows.lung[1], gradcam: false, lesion: false, opacity: 0.5 };
  var stats = window.viewerStats = { render: config.render, firstImageMs: null, loaded: 0, count: count };

  var slider = document.getElementById("slice-slider");
  var label = document.getElementById("slice-label");
  var heatLayer = document.getElementById("heatmap-layer");
  var lesionLayer = document.getElementById("lesion-layer");
  var overlayStatus = document.getElementById("overlay-status");
  var strip = document.getElementById("prob-strip");
  var level = document.getElementById("window-level");
  var width = document.getElementById("window-width");
  var display = raw ? canvas : image;
  (raw ? image : canvas).hidden = true;
  display.hidden = false;

  // Head first: display position 0 is the most superior slice (the highest stored index, z ascending).
  function positionOf(index) { return count - 1 - index; }
  function indexAt(position) { return count - 1 - position; }

  // The server's heatmap colour map (256 RGB entries): the one the overlays and the key are drawn with.
  var COLOURS = config.colormap.lut;
  function inferno(v) { return COLOURS[v]; }

  function pngUrl(i) { return sliceBase + i + ".png?wl=" + encodeURIComponent(state.wl) + "&ww=" + encodeURIComponent(state.ww); }
  function overlayUrl(i, kind) { return overlayBase + i + "/" + kind + ".png"; }

  function markDrawn() {
    display.dataset.index = String(state.index);
    display.dataset.wl = String(state.wl);
    display.dataset.ww = String(state.ww);
    if (stats.firstImageMs === null) { stats.firstImageMs = performance.now(); }
    display.dispatchEvent(new Event("drawn"));
  }

  // --- raw path: 16-bit HU per slice, windowed through a lookup table -------------------------
  var volume = new Array(count);   // Int16Array per stored index, once loaded
  var pending = {};                // index -> true while its request runs
  var failed = {};                 // index -> true when its request failed (not retried in the background)
  var lut = new Uint8Array(65536); // HU + 32768 -> grey, rebuilt on a window change
  var lutFor = "";

  function buildLut() {
    var key = state.wl + "/" + state.ww;
    if (key === lutFor) { return; }
    // The server's PNG formula (triage.worklist.imaging.window_to_uint8), float32 and round half to
    // even like numpy's rint, so both paths give the same pixels: linear over [wl - ww/2, wl + ww/2].
    var f = Math.fround, low = f(state.wl - state.ww / 2), scale = f(255 / state.ww);
    for (var v = 0; v < 65536; v++) {
      var x = f(f(f(v - 32768) - low) * scale), g = Math.round(x);
      if (g - x === 0.5 && g % 2 !== 0) { g -= 1; }  // a tie rounds to the even neighbour
      lut[v] = g < 0 ? 0 : (g > 255 ? 255 : g);
    }
    lutFor = key;
  }

  function paint(target, slice) {  // window one 16-bit slice into ``target``'s canvas
    if (!target.frame || target.frame.width !== slice.columns || target.frame.height !== slice.rows) {
      target.canvas.width = slice.columns; target.canvas.height = slice.rows;
      target.frame = target.canvas.getContext("2d").createImageData(slice.columns, slice.rows);
    }
    buildLut();
    var out = new Uint32Array(target.frame.data.buffer), hu = slice.samples;
    for (var p = 0; p < hu.length; p++) {
      var g = lut[hu[p] + 32768];
      out[p] = 0xff000000 | (g << 16) | (g << 8) | g;  // RGBA bytes on little-endian machines
    }
    target.canvas.getContext("2d").putImageData(target.frame, 0, 0);
  }

  var main = { canvas: canvas, frame: null };
  function drawRaw() {
    var slice = volume[state.index];
    if (!slice) { return false; }
    paint(main, slice);
    markDrawn();
    drawPrior();
    return true;
  }

  function fetchSlice(base, index) {
    return fetch(base + index + ".i16", { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      var rows = Number(response.headers.get("X-Rows")), columns = Number(response.headers.get("X-Columns"));
      return response.arrayBuffer().then(function (buffer) {
        return { samples: new Int16Array(buffer), rows: rows, columns: columns };
      });
    });
  }

  function fetchRaw(index) {
    if (volume[index] || pending[index]) { return Promise.resolve(); }
    pending[index] = true;
    return fetchSlice(sliceBase, index).then(function (slice) {
      volume[index] = slice;
      stats.loaded += 1;
      if (index === state.index) { drawRaw(); }
      if (!loading) { startLoaders(); }  // the first image is up: now fetch the rest
    }).catch(function () { failed[index] = true; })
      .then(function () { delete pending[index]; });
  }

  // An earlier study beside this one, at the slice whose table position (z) is nearest.
  var prior = null;  // {config, slices: {index: slice}, target}
  var priorSelect = document.getElementById("prior-select");
  var priorStage = document.getElementById("prior-stage");
  function nearestPriorIndex(z) {
    var best = -1, bestDistance = Infinity;
    prior.config.zPositions.forEach(function (pz, i) {
      var d = Math.abs(pz - z);
      if (pz !== null && d < bestDistance) { best = i; bestDistance = d; }
    });
    return best;
  }
  function drawPrior() {
    if (!prior) { return; }
    var z = config.zPositions[state.index];
    var index = z === null || z === undefined ? -1 : nearestPriorIndex(z);
    var caption = document.getElementById("prior-caption");
    if (index < 0) { caption.textContent = "no slice position to match"; return; }
    var wanted = state.index, current = prior;
    var show = function (slice) {
      if (prior !== current || wanted !== state.index) { return; }
      paint(prior.target, slice);
      prior.target.canvas.dataset.index = String(index);
      caption.textContent = current.config.label + " · slice " + (index + 1) + " · z " +
        current.config.zPositions[index].toFixed(1) + " mm (here " + z.toFixed(1) + " mm)";
    };
    if (prior.slices[index]) { show(prior.slices[index]); return; }
    fetchSlice(prior.config.sliceUrl.replace(/0\.png$/, ""), index).then(function (slice) {
      current.slices[index] = slice; show(slice);
    }).catch(function () { caption.textContent = "this slice of the earlier study could not be loaded"; });
  }
  if (priorSelect) {
    priorSelect.addEventListener("change", function () {
      var chosen = config.priors[Number(priorSelect.value)];
      prior = priorSelect.value === "" || !chosen ? null
        : { config: chosen, slices: {}, target: { canvas: document.getElementById("prior-canvas"), frame: null } };
      priorStage.hidden = !prior;
      drawPrior();
    });
  }

  // Background loading, nearest to the current slice first, a few requests at a time.
  var LOADERS = 4;
  function nextToLoad() {
    for (var d = 0; d < count; d++) {
      var candidates = [state.index + d, state.index - d];
      for (var c = 0; c < 2; c++) {
        var i = candidates[c];
        if (i >= 0 && i < count && !volume[i] && !pending[i] && !failed[i]) { return i; }
      }
    }
    return -1;
  }
  function loader() {
    var i = nextToLoad();
    if (i < 0) { return; }
    fetchRaw(i).then(loader);
  }
  var loading = false;
  function startLoaders() {
    loading = true;
    for (var n = 0; n < LOADERS; n++) { loader(); }
  }

  // --- png path ---------------------------------------------------------------------------------
  if (!raw) {
    image.addEventListener("load", function () {
      if (image.src.indexOf(pngUrl(state.index)) >= 0) { markDrawn(); }
    });
  }

  // --- overlays, strip, labels --------------------------------------------------------------
  function loadPixels(url, transform, layer, done) {
    var source = new Image();
    source.onload = function () {
      layer.width = source.naturalWidth; layer.height = source.naturalHeight;
      var ctx = layer.getContext("2d");
      ctx.drawImage(source, 0, 0);
      var pixels = ctx.getImageData(0, 0, layer.width, layer.height);
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

  function asIs() {}  // lesion PNG: the outline alone on a transparent background

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
                 showLayer(lesionLayer, state.lesion, "lesion", asIs)].filter(Boolean);
    overlayStatus.textContent = notes.join("; ");
  }

  var ticks = [];
  function renderStrip() {
    ticks.forEach(function (tick, i) { tick.classList.toggle("current", i === state.index); });
  }

  function draw() {
    if (raw) {
      if (!drawRaw()) { fetchRaw(state.index); }
    } else {
      image.src = pngUrl(state.index);
      [state.index - 1, state.index + 1].forEach(function (n) { if (n >= 0 && n < count) { new Image().src = pngUrl(n); } });
    }
  }

  function show(index) {
    var next = Math.max(0, Math.min(count - 1, index));
    var moved = next !== state.index || !display.dataset.index;
    state.index = next;
    display.setAttribute("aria-label", "CT slice " + (state.index + 1) + " of " + count);
    slider.value = String(positionOf(state.index));
    label.textContent = (state.index + 1) + " / " + count;
    renderStrip();
    draw();
    if (moved) { renderOverlays(); }
  }

  function setWindow(wl, ww) {
    if (!isFinite(wl) || !isFinite(ww) || ww < 1) { return; }
    state.wl = wl; state.ww = ww;
    level.value = String(wl); width.value = String(ww);
    document.querySelectorAll(".preset").forEach(function (b) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.wl) === wl && Number(b.dataset.ww) === ww));
    });
    draw();
  }

  // Probability strip (head on the left) and key-slice buttons.
  for (var position = 0; position < count; position++) {
    var i = indexAt(position);
    var tick = document.createElement("span");
    var p = config.sliceProbabilities[String(i)];
    tick.className = "tick" + (keyIndices.indexOf(i) >= 0 ? " key" : "");
    tick.style.height = (p === undefined ? 2 : Math.max(4, Math.round(p * 100))) + "%";
    tick.title = "Slice " + (i + 1) + (p === undefined ? "" : ": " + Math.round(p * 100) + " %");
    tick.dataset.index = String(i);
    strip.appendChild(tick);
    ticks[i] = tick;
  }
  strip.addEventListener("click", function (event) {
    var target = event.target.closest(".tick");
    if (target) { show(Number(target.dataset.index)); return; }
    var rect = strip.getBoundingClientRect();
    show(indexAt(Math.floor((event.clientX - rect.left) / rect.width * count)));
  });
  var keyBox = document.getElementById("key-slices");
  config.keySlices.slice().reverse().forEach(function (k) {  // head first; numbered by the server, as the report
    var button = document.createElement("button");
    button.type = "button"; button.textContent = "Key slice " + k.number; button.dataset.index = String(k.index);
    button.addEventListener("click", function () { show(k.index); stage.focus(); });
    keyBox.appendChild(button);
  });
  Object.keys(config.orientation || {}).forEach(function (side) {
    var mark = document.getElementById("orient-" + side);
    if (mark) { mark.textContent = config.orientation[side]; }
  });

  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    if (event.deltaY !== 0) { show(state.index + (event.deltaY > 0 ? -1 : 1)); }  // down: toward the feet
  }, { passive: false });
  slider.addEventListener("input", function () { show(indexAt(Number(slider.value))); });
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var steps = { ArrowDown: -1, ArrowRight: -1, ArrowUp: 1, ArrowLeft: 1, PageDown: -10, PageUp: 10 };
    if (event.key in steps) { show(state.index + steps[event.key]); }
    else if (event.key === "Home") { show(count - 1); }  // the head end
    else if (event.key === "End") { show(0); }
    else if (event.key === "l" || event.key === "L") { setWindow(config.windows.lung[0], config.windows.lung[1]); }
    else if (event.key === "m" || event.key === "M") { setWindow(config.windows.mediastinal[0], config.windows.mediastinal[1]); }
    else if ((event.key === "o" || event.key === "O") && !gradcamToggle.disabled) { gradcamToggle.checked = !gradcamToggle.checked; gradcamToggle.dispatchEvent(new Event("change")); }
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

  // For the browser benchmark and tests: drive the viewer and wait until the slice is drawn (the canvas
  // painted, or the PNG decoded); the browser shows it in its next frame either way.
  window.viewer = {
    show: show, setWindow: setWindow,
    whenDrawn: function (index, wl, ww) {
      return new Promise(function (resolve) {
        function done() {
          return display.dataset.index === String(index) && display.dataset.wl === String(wl) && display.dataset.ww === String(ww);
        }
        if (done()) { resolve(); return; }
        display.addEventListener("drawn", function check() {
          if (!done()) { return; }
          display.removeEventListener("drawn", check);
          resolve();
        });
      });
    },
  };

  show(config.firstIndex);  // raw: this slice alone (preloaded by the page head), then the rest
}());

// Draw a digit: the page's side of demo.py. Strokes are kept as point lists so that "undo" can
// redraw the rest; after each stroke the pad (or an uploaded photo, as sent) goes to
// POST /api/predict. The camera's frames go to POST /api/read.
"use strict";

const PEN_WIDTH = 18;        // pad pixels: on the 280-pixel pad about MNIST's stroke at 28 pixels
const PAPER = "#ffffff", INK = "#000000";
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const $ = (id) => document.getElementById(id);

let strokes = [];            // [[{x, y}, ...], ...], in pad pixels
let current = null;          // the stroke being drawn
let photo = null;            // {file, bitmap} of an uploaded photo, drawn under the strokes
let models = [];
let sent = 0;                // requests sent; answers to older ones are dropped

function padPoint(event) {
  const r = pad.getBoundingClientRect();
  return {
    x: (event.clientX - r.left) * pad.width / r.width,
    y: (event.clientY - r.top) * pad.height / r.height,
  };
}

function redraw() {
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, pad.width, pad.height);
  if (photo) {  // fit the photo inside the pad, aspect kept
    const s = Math.min(pad.width / photo.bitmap.width, pad.height / photo.bitmap.height);
    const w = photo.bitmap.width * s, h = photo.bitmap.height * s;
    ctx.drawImage(photo.bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  }
  ctx.strokeStyle = INK; ctx.lineWidth = PEN_WIDTH; ctx.lineCap = "round"; ctx.lineJoin = "round";
  for (const stroke of strokes.concat(current ? [current] : [])) {
    ctx.beginPath();
    ctx.moveTo(stroke[0].x, stroke[0].y);
    for (const p of stroke) ctx.lineTo(p.x, p.y);
    if (stroke.length === 1) ctx.lineTo(stroke[0].x + 0.1, stroke[0].y);  // a dot
    ctx.stroke();
  }
  $("strokes").textContent = `${strokes.length} stroke${strokes.length === 1 ? "" : "s"}`;
}

// ---- pointer events: one code path for mouse, pen and finger
pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  pad.setPointerCapture(e.pointerId);
  current = [padPoint(e)];
  redraw();
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];  // every sample of a fast pen
  for (const c of (events.length ? events : [e])) current.push(padPoint(c));
  redraw();
});
function endStroke() {
  if (!current) return;
  strokes.push(current);
  current = null;
  redraw();
  predict();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

$("undo").addEventListener("click", () => { strokes.pop(); redraw(); predict(); });
$("clear").addEventListener("click", () => { strokes = []; photo = null; redraw(); predict(); });
$("model").addEventListener("change", () => { showHint(); predict(); });

// ---- photos: chosen or dropped; sent as the file itself, so the server's photo pipeline sees
// every pixel
$("upload").addEventListener("change", (e) => {
  if (e.target.files[0]) usePhoto(e.target.files[0]);
  e.target.value = "";
});
pad.addEventListener("dragover", (e) => e.preventDefault());
pad.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files[0]) usePhoto(e.dataTransfer.files[0]);
});

async function usePhoto(file) {
  const answer = await send(file);
  if (!answer) return;  // refused: the error is shown and the pad keeps what it had
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    // a format the browser cannot show: predicted all the same, not drawn on the pad
  }
  photo = bitmap ? { file, bitmap } : null;
  strokes = [];
  redraw();
}

// ---- the server
function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
  document.body.dataset.state = message ? "error" : "ready";
}

function selectedModel() { return models.find((m) => m.id === $("model").value); }

function showHint() {
  const m = selectedModel();
  $("hint").textContent = m ? (m.input === "letter"
    ? `draw one of: ${m.classes.join(", ")}, centred and large` : "draw one digit, 0-9") : "";
}

function blank() {
  $("prediction").textContent = "–"; $("verdict").textContent = "";
  for (const id of ["bars", "maps"]) $(id).replaceChildren();
  for (const id of ["input", "gradcam"]) $(id).getContext("2d").clearRect(0, 0, 28, 28);
}

function predict() {
  if (!strokes.length && !photo) { sent++; blank(); showError(""); return; }
  if (photo && !strokes.length) { send(photo.file); return; }
  pad.toBlob((blob) => send(blob), "image/png");
}

async function send(body) {
  const mine = ++sent;
  document.body.dataset.state = "busy";
  let response, answer;
  try {
    const url = `api/predict?model=${encodeURIComponent($("model").value)}`;
    response = await fetch(url, { method: "POST", body });
    answer = await response.json();
  } catch (err) {
    if (mine === sent) {
      showError(`no answer from the server (${err.message}); is demo.py still running?`);
    }
    return null;
  }
  if (mine !== sent) return null;  // a newer drawing is on its way
  if (!response.ok) {
    showError(`${answer.error || response.statusText} (HTTP ${response.status})`);
    return null;
  }
  showError("");
  show(answer);
  document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
  return answer;
}

// ---- what it sees and thinks
function show(a) {
  $("prediction").textContent = a.prediction;
  const sure = Math.round(100 * a.top_probability);
  $("verdict").textContent = a.not_sure ? `not sure (${sure} %)` : "";
  const bars = $("bars");
  bars.replaceChildren();
  const top = a.probabilities.indexOf(Math.max(...a.probabilities));
  a.classes.forEach((name, k) => {
    const p = a.probabilities[k];
    const bar = document.createElement("div");
    bar.className = k === top ? "bar top" : "bar";
    bar.style.width = `${100 * p}%`;
    const cell = document.createElement("div");
    cell.append(bar);
    bars.append(text("span", name), cell, text("span", `${(100 * p).toFixed(1)} %`, "p"));
  });
  const input = a.input.flat(), cam = a.gradcam.flat();
  paint($("input"), 28, 28, (i) => grey(input[i]));
  paint($("gradcam"), 28, 28, (i) => heat(input[i], cam[i]));
  $("maps").replaceChildren(...a.maps.map(mapGrid));
}

function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

// Fill a w x h canvas; colour(i) gives [r, g, b] of pixel i, counted row by row.
function paint(canvas, w, h, colour) {
  canvas.width = w; canvas.height = h;
  const c = canvas.getContext("2d"), img = c.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([...colour(i), 255], 4 * i);
  c.putImageData(img, 0, 0);
}

const grey = (v) => { const g = Math.round(255 * v); return [g, g, g]; };
// The input in grey with the Grad-CAM map laid over it in red-yellow, stronger where the map is.
function heat(v, m) {
  const g = 255 * v * (1 - 0.6 * m);
  return [Math.round(g + 255 * m * 0.9), Math.round(g + 200 * m * m), Math.round(g)];
}

// A map as the API sends it: base64 of little-endian float32 values, shape [channels, height,
// width].
// (Float32Array reads the machine's byte order, little-endian on every platform browsers run on.)
function floats(base64) {
  const bytes = Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// A heading from the map's title, then one canvas per channel, each on its own symmetric scale:
// white 0, red positive, blue negative.
function mapGrid(map) {
  const [channels, h, w] = map.shape, values = floats(map.data), grid = text("div", "", "grid");
  grid.dataset.map = map.name;
  if (channels > 24) grid.classList.add("small");  // a transformer's 48 channels: smaller squares
  for (let k = 0; k < channels; k++) {
    const channel = values.subarray(k * h * w, (k + 1) * h * w);
    const scale = Math.max(1e-6, ...channel.map(Math.abs));
    const canvas = document.createElement("canvas");
    paint(canvas, w, h, (i) => {
      const v = channel[i], t = Math.min(1, Math.abs(v) / scale), o = Math.round(255 * (1 - t));
      return v >= 0 ? [255, o, o] : [o, o, 255];
    });
    grid.append(canvas);
  }
  const section = document.createElement("div");
  section.append(text("h2", map.title), grid);
  return section;
}

// ---- the camera: a frame goes to POST /api/read as soon as the answer to the last one is in (one
// request in flight, so the page keeps up with the server, however fast it is); each character
// found is boxed over the video with its prediction, and its 28x28 input shown beside it
const video = $("video"), view = $("view");
let stream = null;

$("camera").addEventListener("click", () => (stream ? stopCamera() : startCamera()));

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (err) {
    showError(`no camera (${err.message})`);
    return;
  }
  video.srcObject = stream;
  await video.play();
  $("camera").setAttribute("aria-pressed", "true");
  $("live").hidden = false;
  document.body.dataset.camera = "on";
  readFrames();
}

function stopCamera() {
  for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").setAttribute("aria-pressed", "false");
  $("live").hidden = true;
  document.body.dataset.camera = "off";
}

async function readFrames() {
  const frame = document.createElement("canvas");
  while (stream) {
    frame.width = video.videoWidth || 640; frame.height = video.videoHeight || 480;
    frame.getContext("2d").drawImage(video, 0, 0, frame.width, frame.height);
    const blob = await new Promise((done) => frame.toBlob(done, "image/jpeg", 0.85));
    let response, answer;
    try {
      const url = `api/read?turn=0&model=${encodeURIComponent($("model").value)}`;
      response = await fetch(url, { method: "POST", body: blob });
      answer = await response.json();
    } catch (err) {
      showError(`no answer from the server (${err.message}); is demo.py still running?`);
      await new Promise((done) => setTimeout(done, 1000));
      continue;
    }
    if (!stream) break;
    // 400 for a frame without characters: nothing to read, not an error
    const characters = response.ok ? answer.characters : [];
    if (!response.ok && response.status !== 400) {
      showError(`${answer.error || response.statusText} (HTTP ${response.status})`);
    } else {
      showError("");
    }
    showFrame(frame, characters);
    document.body.dataset.frames = String(Number(document.body.dataset.frames || 0) + 1);
  }
}

// The frame as sent, each character boxed: blue and named when sure, orange "?" when not.
function showFrame(frame, characters) {
  view.width = frame.width; view.height = frame.height;
  const c = view.getContext("2d");
  c.drawImage(frame, 0, 0);
  c.lineWidth = 3; c.font = "bold 22px system-ui, sans-serif";
  const inputs = [];
  characters.forEach((ch, i) => {
    const [x, y, w, h] = ch.box;
    const label = ch.not_sure ? "?" : ch.prediction;
    c.strokeStyle = c.fillStyle = ch.not_sure ? "#e07000" : "#1f5fa8";
    c.strokeRect(x, y, w, h);
    c.fillText(`${label} ${Math.round(100 * ch.top_probability)}%`, x, Math.max(20, y - 6));
    const input = document.createElement("canvas");
    const flat = ch.input.flat();
    paint(input, 28, 28, (k) => grey(flat[k]));
    const figure = document.createElement("figure");
    figure.append(input, text("figcaption", `${i + 1}: ${label}`));
    inputs.push(figure);
  });
  $("live-inputs").replaceChildren(...inputs);
  const sure = characters.filter((ch) => !ch.not_sure);
  $("live-status").textContent = !characters.length ? "nothing to read"
    : !sure.length ? "not sure"
    : sure.map((ch) => ch.prediction).join(" ");
  view.dataset.read = JSON.stringify(characters.map((ch) => ({
    box: ch.box, prediction: ch.prediction, not_sure: ch.not_sure })));
}

// ---- start: list the models
async function start() {
  try {
    const info = await (await fetch("api/models")).json();
    models = info.models;
    for (const m of models) {
      const digits = m.classes.length === 10 && m.input === "digit";
      const name = digits ? "digits 0-9" : m.classes.join(", ");
      const option = text("option", `${m.id}: ${name}`);
      option.value = m.id;
      $("model").append(option);
    }
    $("model").value = info.default;
    showHint();
    redraw();
    document.body.dataset.state = "ready";
  } catch (err) {
    showError(`cannot list the models (${err.message})`);
  }
}
start();

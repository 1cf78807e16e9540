// The training run, live. The "progress" part polls the server's JSON route, updates its bar and
// text in place, hands each state to the "curves" part (a window event: one request per page),
// and asks Streamlit for a rerun only when the run starts, ends or is decided.
// Data from Python (run_monitor.render): part, initial (a payload), url, poll_running_ms,
// poll_idle_ms.

const SVG = "http://www.w3.org/2000/svg";
const STATE_EVENT = "mnist-draw:training-state";
const W = 260, H = 120, PAD = { left: 40, right: 6, top: 6, bottom: 20 };
const FAILURES_BEFORE_NOTE = 3;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function paddedRange(values) {
  const lo = Math.min(...values), hi = Math.max(lo + 1e-3, ...values);
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

// One chart: a training line (x = position in epochs) and validation dots at whole epochs.
// Points whose value is null (a metric the run did not report) are left out.
function chart(title, epochs, train, val, format) {
  const box = el("div", "rm-chart");
  box.appendChild(el("div", "rm-chart-title", title));
  train = train.filter(p => p[1] !== null);
  val = val.filter(p => p[1] !== null);
  const ys = train.map(p => p[1]).concat(val.map(p => p[1]));
  if (!ys.length) return box;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const xmax = Math.max(epochs, ...train.map(p => p[0]), ...val.map(p => p[0]), 1);
  const [ylo, yhi] = paddedRange(ys);
  const X = x => PAD.left + (W - PAD.left - PAD.right) * x / xmax;
  const Y = y => H - PAD.bottom - (H - PAD.top - PAD.bottom) * (y - ylo) / (yhi - ylo);
  for (let i = 0; i <= 2; i++) {  // three horizontal grid lines with their values
    const v = ylo + (yhi - ylo) * (0.1 + 0.4 * i);
    s.appendChild(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: Y(v), y2: Y(v), class: "rm-grid" }));
    const t = svg("text", { x: PAD.left - 4, y: Y(v) + 4, class: "rm-tick", "text-anchor": "end" });
    t.textContent = format(v);
    s.appendChild(t);
  }
  const every = Math.max(1, Math.ceil(xmax / 8));
  for (let e = 0; e <= xmax; e += every) {  // epoch ticks
    const t = svg("text", { x: X(e), y: H - 5, class: "rm-tick", "text-anchor": "middle" });
    t.textContent = String(e);
    s.appendChild(t);
  }
  if (train.length) {
    const d = train.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    s.appendChild(svg("path", { d, class: "rm-train" }));
  }
  for (const p of val) s.appendChild(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3.5, class: "rm-val" }));
  box.appendChild(s);
  return box;
}

function legend(hasVal) {
  const l = el("div", "rm-legend");
  l.appendChild(el("span", "rm-key rm-key-train", "training (running mean within each epoch)"));
  if (hasVal) l.appendChild(el("span", "rm-key rm-key-val", "validation (test set)"));
  return l;
}

// The bar and its text, built once and then updated in place (a screen reader keeps its place).
function progressView(root) {
  const message = el("div", "rm-message");
  const bar = el("div", "rm-bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", "Training progress");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const fill = el("div", "rm-fill");
  bar.appendChild(fill);
  const detail = el("div", "rm-caption");
  const note = el("div", "rm-caption rm-note");
  root.replaceChildren(message, bar, detail, note);
  return (s, lost) => {
    root.hidden = !s.running;
    message.textContent = s.message;
    fill.style.width = `${(s.fraction * 100).toFixed(1)}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(s.fraction * 100)));
    bar.setAttribute("aria-valuetext", s.message);
    detail.textContent = s.detail;
    note.textContent = lost ? "No answer from the server; still trying…" : "";
  };
}

function curvesView(root) {
  return s => {
    root.replaceChildren();
    if (s.training) root.appendChild(el("div", "rm-line", s.training));
    if (s.validation) root.appendChild(el("div", s.val.length ? "rm-line" : "rm-caption", s.validation));
    if (!s.batches.length) return;
    const loss = s.batches.map(b => [b[0], b[1]]), acc = s.batches.map(b => [b[0], b[2]]);
    root.appendChild(chart("Loss", s.epochs, loss, s.val.map(v => [v[0], v[1]]), v => v.toFixed(2)));
    root.appendChild(chart("Accuracy", s.epochs, acc, s.val.map(v => [v[0], v[2]]),
                           v => `${(v * 100).toFixed(1)}%`));
    root.appendChild(legend(s.val.length > 0));
  };
}

// The curves part: draws what the progress part fetched.
function listen(draw, monitor) {
  const onState = e => draw(e.detail);
  window.addEventListener(STATE_EVENT, onState);
  monitor.stop = () => window.removeEventListener(STATE_EVENT, onState);
}

// The progress part: polls (not while the tab is hidden; at once when it shows again), shares each
// state, and asks for a rerun once per change of the key the page was drawn for.
function poll(data, draw, setTriggerValue, monitor) {
  const drawnFor = JSON.stringify(data.initial.key);
  let last = data.initial, running = last.running, failures = 0, asked = null;
  const schedule = () => {
    clearTimeout(monitor.timer);
    const ms = running ? data.poll_running_ms : data.poll_idle_ms;
    if (!monitor.stopped) monitor.timer = setTimeout(tick, ms);
  };
  const tick = async () => {
    if (document.hidden) return schedule();
    try {
      const response = await fetch(data.url, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const s = await response.json();
      if (monitor.stopped) return;
      failures = 0;
      last = s;
      running = s.running;
      draw(s, false);
      window.dispatchEvent(new CustomEvent(STATE_EVENT, { detail: s }));
      const key = JSON.stringify(s.key);
      if (key !== drawnFor && key !== asked) {
        asked = key;  // once: the rerun mounts this part again, drawn for the new key
        setTriggerValue("changed", key);
      }
    } catch (e) {  // the server is restarting, or the network blinked: say so after a few tries
      failures += 1;
      draw(last, failures >= FAILURES_BEFORE_NOTE && running);
    }
    schedule();
  };
  const onVisible = () => { if (!document.hidden) tick(); };
  document.addEventListener("visibilitychange", onVisible);
  monitor.stop = () => {
    monitor.stopped = true;
    clearTimeout(monitor.timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
  schedule();
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  if (parentElement.__runMonitor) parentElement.__runMonitor.stop();  // called again on every rerun
  let root = parentElement.querySelector(".rm");
  if (!root) {
    root = el("div", "rm");
    parentElement.appendChild(root);
  }
  const monitor = { stopped: false, timer: null, stop: () => {} };
  parentElement.__runMonitor = monitor;
  if (data.part === "progress") {
    const draw = progressView(root);
    draw(data.initial, false);
    poll(data, draw, setTriggerValue, monitor);
  } else {
    const draw = curvesView(root);
    draw(data.initial);
    listen(draw, monitor);
  }
  return () => monitor.stop();
}

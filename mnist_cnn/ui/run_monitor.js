// The training run, live: polls the server's JSON route and redraws a progress bar, numbers and
// SVG curves in place; asks Streamlit for a rerun only when the run starts, ends or is decided.
// Data from Python (run_monitor.render): part, initial (a payload), url, poll_running_ms,
// poll_idle_ms (0: do not poll while idle), triggers.

const SVG = "http://www.w3.org/2000/svg";
const W = 300, H = 110, PAD = { left: 34, right: 6, top: 6, bottom: 18 };

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
function chart(title, epochs, train, val, format) {
  const box = el("div", "rm-chart");
  box.appendChild(el("div", "rm-chart-title", title));
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const xs = train.map(p => p[0]).concat(val.map(p => p[0]));
  const ys = train.map(p => p[1]).concat(val.map(p => p[1]));
  if (!ys.length) return box;
  const xmax = Math.max(epochs, ...xs, 1);
  const [ylo, yhi] = paddedRange(ys);
  const X = x => PAD.left + (W - PAD.left - PAD.right) * x / xmax;
  const Y = y => H - PAD.bottom - (H - PAD.top - PAD.bottom) * (y - ylo) / (yhi - ylo);
  for (let i = 0; i <= 2; i++) {  // three horizontal grid lines with their values
    const v = ylo + (yhi - ylo) * (0.1 + 0.4 * i);
    s.appendChild(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: Y(v), y2: Y(v), class: "rm-grid" }));
    const t = svg("text", { x: PAD.left - 3, y: Y(v) + 3, class: "rm-tick", "text-anchor": "end" });
    t.textContent = format(v);
    s.appendChild(t);
  }
  const every = Math.max(1, Math.ceil(xmax / 10));
  for (let e = 0; e <= xmax; e += every) {  // epoch ticks
    const t = svg("text", { x: X(e), y: H - 5, class: "rm-tick", "text-anchor": "middle" });
    t.textContent = String(e);
    s.appendChild(t);
  }
  if (train.length) {
    const d = train.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    s.appendChild(svg("path", { d, class: "rm-train" }));
  }
  for (const p of val) s.appendChild(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, class: "rm-val" }));
  box.appendChild(s);
  return box;
}

function legend(hasVal) {
  const l = el("div", "rm-legend");
  l.appendChild(el("span", "rm-key rm-key-train", "training (per batch)"));
  if (hasVal) l.appendChild(el("span", "rm-key rm-key-val", "validation (test set)"));
  return l;
}

function drawProgress(root, s) {
  root.replaceChildren();
  if (!s.running) return;
  root.appendChild(el("div", "rm-message", s.message));
  const bar = el("div", "rm-bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(Math.round(s.fraction * 100)));
  const fill = el("div", "rm-fill");
  fill.style.width = `${(s.fraction * 100).toFixed(1)}%`;
  bar.appendChild(fill);
  root.appendChild(bar);
  root.appendChild(el("div", "rm-caption", s.detail));
}

function drawCurves(root, s) {
  root.replaceChildren();
  if (s.training) root.appendChild(el("div", "rm-line", s.training));
  if (s.validation) root.appendChild(el("div", s.val.length ? "rm-line" : "rm-caption", s.validation));
  if (!s.batches.length) return;
  const loss = s.batches.map(b => [b[0], b[1]]), acc = s.batches.map(b => [b[0], b[2]]);
  root.appendChild(chart("Loss", s.epochs, loss, s.val.map(v => [v[0], v[1]]), v => v.toFixed(2)));
  root.appendChild(chart("Accuracy", s.epochs, acc, s.val.map(v => [v[0], v[2]]), v => `${(v * 100).toFixed(1)}%`));
  root.appendChild(legend(s.val.length > 0));
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  if (parentElement.__runMonitor) parentElement.__runMonitor.stop();  // called again on a rerun
  let root = parentElement.querySelector(".rm");
  if (!root) {
    root = el("div", "rm");
    parentElement.appendChild(root);
  }
  const draw = data.part === "progress" ? drawProgress : drawCurves;
  const drawnFor = JSON.stringify(data.initial.key);
  const monitor = { stopped: false, timer: null, asked: null };
  monitor.stop = () => { monitor.stopped = true; clearTimeout(monitor.timer); };
  parentElement.__runMonitor = monitor;
  draw(root, data.initial);

  const schedule = running => {
    const ms = running ? data.poll_running_ms : data.poll_idle_ms;
    if (!monitor.stopped && ms > 0) monitor.timer = setTimeout(poll, ms);
  };
  const poll = async () => {
    let running = data.initial.running;
    try {
      const response = await fetch(data.url, { cache: "no-store" });
      if (response.ok && !monitor.stopped) {
        const s = await response.json();
        running = s.running;
        draw(root, s);
        const key = JSON.stringify(s.key);
        if (data.triggers && key !== drawnFor && key !== monitor.asked) {
          monitor.asked = key;  // once per change: the rerun mounts this again with the new key
          setTriggerValue("changed", key);
        }
      }
    } catch (e) {
      // the server is restarting or the network blinked: try again at the next tick
    }
    schedule(running);
  };
  schedule(data.initial.running);
  return () => monitor.stop();
}

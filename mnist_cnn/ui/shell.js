// The first-second page (ui/shell.py): a canvas to draw on while Streamlit's frontend loads.
// Each stroke is answered by the server's model (settings.predictUrl). When Streamlit's own canvas
// is ready, the strokes are drawn again on it, so the drawing and its prediction carry over, and
// this page is removed.
(() => {
  const settings = JSON.parse(document.getElementById("mnist-draw-shell-settings").textContent);
  const shell = document.getElementById(settings.id);
  if (!shell) return;
  const POLL_MS = 100;    // looking for Streamlit's canvas
  const SETTLE_MS = 300;  // it must stay put this long before the strokes go over, and after
  const size = settings.size;
  const canvas = shell.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const answer = shell.querySelector('[data-testid="shell-answer"]');
  const delta = shell.querySelector('[data-testid="shell-delta"]');
  const strokes = [];  // finished strokes, each a list of [x, y] in canvas pixels
  let current = null;  // the stroke being drawn
  let asked = 0;       // only the latest stroke's answer is shown
  document.title = settings.title;
  // What happened, for the benchmark and the tests: when and why this page stepped aside.
  const record = window.mnistDrawShell = {
    shownAt: performance.now(), answers: [], penDown: [], strokes: 0, reason: null, removedAt: null,
  };

  function blank() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = settings.stroke;
    ctx.lineCap = ctx.lineJoin = "round";
  }

  function at(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  }

  function dot([x, y]) {
    ctx.beginPath();
    ctx.arc(x, y, settings.stroke / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function line(a, b) {
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  function show(value, note) {  // the words are drawn by CSS from data-text (ui/shell.py)
    answer.dataset.text = value;
    delta.dataset.text = note;
  }

  function ask() {
    const n = ++asked;
    canvas.toBlob((png) => {
      fetch(settings.predictUrl, { method: "POST", body: png, headers: { "Content-Type": "image/png" } })
        .then((r) => r.json())
        .then((a) => {
          if (n !== asked) return;
          show(a.value || "—", a.delta || a.error || "");
          record.answers.push([performance.now(), answer.dataset.text]);
        })
        .catch(() => { if (n === asked) show("—", "The server did not answer; the app is still loading."); });
    }, "image/png");
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [at(e)];
    dot(current[0]);
    record.penDown.push(performance.now());
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const p = at(e);
    line(current[current.length - 1], p);
    current.push(p);
  });
  const lift = () => {
    if (!current) return;
    strokes.push(current);
    current = null;
    ask();
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  shell.querySelector(".mds-clear").addEventListener("click", () => {
    strokes.length = 0;
    asked++;
    blank();
    show("—", "");
  });

  // Streamlit's canvas: the drawable-canvas component's top layer, in its shadow root.
  function streamlitCanvas() {
    for (const host of document.querySelectorAll("*")) {
      const c = host.shadowRoot && host.shadowRoot.querySelector("canvas.upper-canvas");
      if (c && c.getBoundingClientRect().width > 0) return c;
    }
    return null;
  }

  // Strokes again, from the first one not yet sent, as mouse events on Streamlit's canvas (they
  // cross its shadow root: composed).
  function replay(target, from) {
    const r = target.getBoundingClientRect();
    const fire = (type, [x, y]) => target.dispatchEvent(new MouseEvent(type, {
      bubbles: true, composed: true, cancelable: true, view: window, button: 0,
      buttons: type === "mouseup" ? 0 : 1,
      clientX: r.left + x * r.width / size, clientY: r.top + y * r.height / size,
    }));
    for (const s of strokes.slice(from)) {
      fire("mousedown", s[0]);
      for (const p of s.slice(1)) fire("mousemove", p);
      fire("mouseup", s[s.length - 1]);
    }
  }

  // The element that scrolls Streamlit's canvas (the app's main area, or the document).
  function scrollerOf(el) {
    for (let e = el.parentElement || el.getRootNode().host; e; e = e.parentElement || e.getRootNode().host) {
      const style = getComputedStyle(e);
      if (e.scrollHeight > e.clientHeight + 1 && /(auto|scroll)/.test(style.overflowY)) return e;
    }
    return document.scrollingElement;
  }

  // Scroll the app so that its canvas is where this one is: a pen put down as this page goes
  // still lands on a canvas.
  function align(target) {
    const dy = target.getBoundingClientRect().top - canvas.getBoundingClientRect().top;
    if (Math.abs(dy) >= 1) scrollerOf(target).scrollTop += dy;
  }

  function stepAside(reason, target) {
    clearInterval(timer);
    if (target) align(target);
    const offset = target ? target.getBoundingClientRect().top - canvas.getBoundingClientRect().top : null;
    shell.remove();
    Object.assign(record, { reason, offset, removedAt: performance.now(), strokes: strokes.length });
  }

  // Hand over once Streamlit's canvas has stayed put a moment and the pen is up; strokes drawn
  // meanwhile go over too, and all of them again if the canvas is replaced.
  const started = performance.now();
  let seen = null, seenAt = 0, sent = 0, sentAt = 0;
  const timer = setInterval(() => {
    const target = streamlitCanvas();
    const now = performance.now();
    if (!target) {
      if (now - started > settings.giveUpMs || document.querySelector('[data-testid="stException"]')) {
        stepAside("no canvas came");
      }
      return;
    }
    if (target !== seen) { seen = target; seenAt = now; sent = 0; return; }
    if (now - seenAt < SETTLE_MS || current) return;
    if (sent < strokes.length || sentAt === 0) { replay(target, sent); sent = strokes.length; sentAt = now; return; }
    if (now - sentAt >= SETTLE_MS) stepAside("handed over", target);
  }, POLL_MS);

  blank();
})();

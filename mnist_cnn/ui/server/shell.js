// The first-second page (ui/server/shell.py): a canvas to draw on while Streamlit's frontend loads.
// Each stroke is answered by the server's model (settings.predictUrl). Then, in turn:
//   waiting   Streamlit's canvas is not there yet: draw, get answers;
//   settling  it has appeared: wait SETTLE_MS, and for the pen to lift;
//   replaying one stroke a tick goes over as mouse events (one Undo step each, as if drawn there);
//   done      SETTLE_MS after the last one, this page is removed (if someone drew, the app is
//             first scrolled so that its canvas is where this one is).
(() => {
  // Streamlit's own entry script, held back by the server (ui/server/shell.py): started first thing
  // after GRACE_MS unless a stroke is under way (then when it ends), after MAX_HOLD_MS anyway.
  const own = document.currentScript.dataset;
  let streamlitStarted = !own.entry;
  const startStreamlit = () => {
    if (streamlitStarted) return;
    streamlitStarted = true;
    const script = Object.assign(document.createElement("script"), { type: "module", src: own.entry });
    script.crossOrigin = "";
    document.head.appendChild(script);
    if (window.mnistDrawShell) window.mnistDrawShell.streamlitAt = performance.now();
  };
  setTimeout(startStreamlit, Number(own.maxHoldMs));
  setTimeout(() => { if (!current) startStreamlit(); }, Number(own.graceMs));

  const shell = document.getElementById(own.shell);
  if (!shell) return startStreamlit();
  const settings = JSON.parse(shell.dataset.settings);
  const POLL_MS = 100;    // looking for Streamlit's canvas; and one replayed stroke a tick
  const SETTLE_MS = 300;  // Streamlit's canvas must stay put this long before and after the replay
  const RESET_LABEL = "Reset canvas & history";  // the drawable canvas's toolbar button
  const size = settings.size;
  const canvas = shell.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const answer = shell.querySelector('[data-testid="shell-answer"]');
  const delta = shell.querySelector('[data-testid="shell-delta"]');
  const strokes = [];  // finished strokes, each a list of [x, y] in canvas pixels
  let current = null;  // the stroke being drawn, and the pointer drawing it
  let pointer = null;
  let asked = 0;       // only the latest stroke's answer is shown
  let target = null;   // Streamlit's canvas, once seen
  let seenAt = 0, sent = 0, sentAt = 0;  // when it was seen; strokes replayed on it, and when
  document.title = settings.title;
  // For the benchmark and the tests: when it was shown, each answer [time, value], each pen-down
  // time, and on leaving: why, when, how many strokes it held, how far apart the layouts put the
  // two canvases [x, y], and their vertical offset once the app was scrolled.
  const record = window.mnistDrawShell = {
    shownAt: performance.now(), answers: [], penDown: [], strokes: 0, reason: null, removedAt: null,
    apart: null, offset: null, streamlitAt: null,
  };

  function blank() {
    ctx.fillStyle = settings.paper;
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = ctx.fillStyle = settings.ink;
    ctx.lineWidth = settings.stroke;
    ctx.lineCap = ctx.lineJoin = "round";
  }

  function at(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  }

  const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];

  // Strokes are drawn as fabric's pencil draws them (quadratic curves through the midpoints), so
  // the picture sent for an answer is the one Streamlit's canvas will have.
  function extend(points) {
    const n = points.length;
    ctx.beginPath();
    if (n === 1) {
      ctx.arc(points[0][0], points[0][1], settings.stroke / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    const from = n === 2 ? points[0] : mid(points[n - 3], points[n - 2]);
    const to = mid(points[n - 2], points[n - 1]);
    ctx.moveTo(from[0], from[1]);
    ctx.quadraticCurveTo(points[n - 2][0], points[n - 2][1], to[0], to[1]);
    ctx.stroke();
  }

  function finish(points) {
    const n = points.length;
    if (n < 2) return;
    const from = mid(points[n - 2], points[n - 1]);
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(points[n - 1][0], points[n - 1][1]);
    ctx.stroke();
  }

  function show(value, note) {  // the words are drawn by CSS from data-text (ui/server/shell.py)
    answer.dataset.text = value;
    delta.dataset.text = note;
    delta.classList.toggle("mds-pill", note !== "");
  }

  function ask() {
    const n = ++asked;
    canvas.toBlob((png) => {
      fetch(settings.predictUrl, { method: "POST", body: png, headers: { "Content-Type": "image/png" } })
        .then((r) => r.json())
        .then((a) => {
          if (n !== asked) return;
          show(a.value || settings.none, a.delta || a.error || "");
          record.answers.push([performance.now(), answer.dataset.text]);
        })
        .catch(() => { if (n === asked) show(settings.none, settings.noAnswer); });
    }, "image/png");
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (current || (e.pointerType === "mouse" && e.button !== 0)) return;  // one pen at a time
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    pointer = e.pointerId;
    current = [at(e)];
    extend(current);
    record.penDown.push(performance.now());
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current || e.pointerId !== pointer) return;
    current.push(at(e));
    extend(current);
  });
  const lift = (e) => {
    if (!current || e.pointerId !== pointer) return;
    finish(current);
    strokes.push(current);
    current = pointer = null;
    ask();
    startStreamlit();
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  shell.querySelector(".mds-clear").addEventListener("click", () => {
    if (sent > 0) {  // already partly on Streamlit's canvas: clear that one too
      const reset = target.getRootNode().querySelector(`button[aria-label="${RESET_LABEL}"]`);
      if (reset) reset.click();
      sent = 0;
    }
    strokes.length = 0;
    asked++;
    blank();
    show(settings.none, "");
  });

  // Streamlit's canvas: the drawable-canvas component's top layer, in its shadow root.
  function streamlitCanvas() {
    for (const host of document.querySelectorAll("*")) {
      const c = host.shadowRoot && host.shadowRoot.querySelector("canvas.upper-canvas");
      if (c && c.getBoundingClientRect().width > 0) return c;
    }
    return null;
  }

  // One stroke as mouse events on Streamlit's canvas (composed: they cross its shadow root).
  function replay(points) {
    const r = target.getBoundingClientRect();
    const fire = (type, [x, y]) => target.dispatchEvent(new MouseEvent(type, {
      bubbles: true, composed: true, cancelable: true, view: window, button: 0,
      buttons: type === "mouseup" ? 0 : 1,
      clientX: r.left + x * r.width / size, clientY: r.top + y * r.height / size,
    }));
    fire("mousedown", points[0]);
    for (const p of points.slice(1)) fire("mousemove", p);
    fire("mouseup", points[points.length - 1]);
  }

  // The element that scrolls Streamlit's canvas (the app's main area, or the document).
  function scrollerOf(el) {
    for (let e = el.parentElement || el.getRootNode().host; e; e = e.parentElement || e.getRootNode().host) {
      if (e.scrollHeight > e.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(e).overflowY)) return e;
    }
    return document.scrollingElement;
  }

  const offset = () => target.getBoundingClientRect().top - canvas.getBoundingClientRect().top;

  function stepAside(reason) {
    clearInterval(timer);
    if (target) {
      const [a, b] = [target.getBoundingClientRect(), canvas.getBoundingClientRect()];
      record.apart = [a.left - b.left, a.top - b.top];  // how far the layouts put the two canvases
    }
    // Someone who drew here may be about to draw again: their canvas stays under their hand.
    if (target && strokes.length && Math.abs(offset()) >= 1) scrollerOf(target).scrollTop += offset();
    const left = target ? offset() : null;
    shell.remove();
    Object.assign(record, { reason, offset: left, removedAt: performance.now(), strokes: strokes.length });
  }

  const timer = setInterval(() => {
    const now = performance.now();
    const found = streamlitCanvas();
    if (!found) {
      if (now - record.shownAt > settings.giveUpMs || document.querySelector('[data-testid="stException"]')) {
        stepAside("no canvas came");
      }
      return;
    }
    if (found !== target) { target = found; seenAt = now; sent = 0; sentAt = 0; return; }  // new, or replaced
    if (now - seenAt < SETTLE_MS || current) return;
    if (sent < strokes.length) { replay(strokes[sent++]); sentAt = now; return; }
    if (now - sentAt >= SETTLE_MS) stepAside("handed over");
  }, POLL_MS);

  blank();
})();

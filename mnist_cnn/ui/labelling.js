// Save, pressed the moment a stroke ends (labelling.py): the canvas sends a stroke to the server
// 200 ms after the pen lifts (streamlit-drawable-canvas waits for more), so a click in between
// would reach the server first and save the drawing without that stroke. Pressing Save (pointer
// down, or Enter or Space on it) first has the canvas send its drawing at once, through its own
// toolbar button, so the server hears of the stroke before the click.

const SEND = 'button[aria-label="Update the app with this drawing"]';

function sendDrawing(canvasKey) {
  const box = document.querySelector(`.st-key-${canvasKey}`);
  if (!box) return;
  for (const el of [box, ...box.querySelectorAll("*")]) {
    const button = (el.shadowRoot || el).querySelector(SEND);
    if (button) {
      button.click();
      return;
    }
  }
}

function onPress(event) {
  const keys = window.mnistDrawSaveKeys;
  if (!keys || !(event.target instanceof Element)) return;
  if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
  if (event.target.closest(`.st-key-${keys.save}`)) sendDrawing(keys.canvas);
}

export default function (component) {
  window.mnistDrawSaveKeys = component.data;  // the canvas' key changes after every save
  if (window.mnistDrawSaveListening) return;
  window.mnistDrawSaveListening = true;
  document.addEventListener("pointerdown", onPress, true);
  document.addEventListener("keydown", onPress, true);
}

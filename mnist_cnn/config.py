"""The one home for constants shared by the package, the CLI and the app."""

from __future__ import annotations

import os
from pathlib import Path

# MNIST geometry and normalisation (LeCun et al.): digits are scaled so the longer
# side of the ink's bounding box is 20 px, then centred by centre of mass in 28x28.
IMAGE_SIZE = 28
DIGIT_BOX = 20
NUM_CLASSES = 10

# The page's title and introduction (app.py, and the first-second canvas of ui/server/shell.py).
PAGE_TITLE = "MNIST Draw"  # the browser tab's
APP_TITLE = "✏️ MNIST Draw"
APP_INTRO = ("Draw a digit or a whole number and watch a convolutional network trained on MNIST read it; ask it "
             "why, teach it your handwriting, and look at the digits it gets wrong and the filters it learned.")

# The app's drawing canvas: white ink on black paper, as in MNIST.
CANVAS_SIZE = 280
CANVAS_INK, CANVAS_PAPER = "#FFFFFF", "#000000"
PREDICTION_COLUMNS = (5, 6)  # the Draw tab's widths: canvas or picture | prediction
DEFAULT_STROKE_WIDTH = 18
STROKE_WIDTH_RANGE = (6, 40)

# Prediction display: below this top probability the app says it is unsure.
LOW_CONFIDENCE = 0.6

# Uploads: larger files are refused before decoding; huge images are refused after.
MAX_UPLOAD_MB = 5
MAX_IMAGE_PIXELS = 40_000_000

# Retraining limits offered in the UI and accepted by the CLI.
EPOCH_RANGE = (1, 20)
BATCH_SIZES = (32, 64, 100, 128, 256)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODELS_DIR = REPO_ROOT / "models"
DEFAULT_ARCH = "improved"

DATA_ENV = "MNIST_DATA_DIR"
HOME_ENV = "MNIST_DRAW_HOME"
# Set: the drawings live in this PostgreSQL database (postgresql://user:password@host:port/name) and
# one training run goes at a time across every server that shares it; unset: SQLite in user_home().
DATABASE_URL_ENV = "MNIST_DRAW_DATABASE_URL"


def user_home() -> Path:
    """Where retrained models and the choice of current model live (never the repo's models/)."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".mnist_draw")


def database_url() -> str | None:
    """The PostgreSQL database the servers share (MNIST_DRAW_DATABASE_URL), or None for SQLite."""
    return os.environ.get(DATABASE_URL_ENV, "").strip() or None


def user_models_dir() -> Path:
    return user_home() / "models"


def child_env() -> dict[str, str]:
    """The environment for a child `python -m mnist_cnn...` (the training worker, the feature
    index): the package must import wherever the server was started from."""
    paths = [str(REPO_ROOT), os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}

# How often the server ends the sessions of tabs closed longer than Streamlit's reconnect time, and
# then gives their memory back (ui/server/memory.py).
HOUSEKEEPING_S = 15.0
MALLOC_ARENAS = 2  # C heaps the server's threads share (glibc), not one per session thread

# The training run's live state as JSON, served beside the page (ui/server/startup.py, ui/run_monitor.py).
TRAINING_ROUTE = "/api/training"

# Each browser's anonymous id (ui/browser_id.py): who started a run, and who saved a drawing.
BROWSER_COOKIE = "mnist_draw_browser"

# The first-second canvas's predictions (ui/server/shell.py): a PNG of the canvas in, the answer as JSON out.
PREDICT_ROUTE = "/api/predict"
MAX_PREDICT_PNG_BYTES = 2_000_000  # a 280x280 canvas is ~5-20 KB
MAX_PREDICT_PNG_SIDE = 4 * CANVAS_SIZE  # the canvas is sent at CANVAS_SIZE; far larger is not from it

# Test-only: cap the number of training images a retrain from the app uses.
TRAIN_LIMIT_ENV = "MNIST_DRAW_TRAIN_LIMIT"
# A shared server: a visitor saves at most one drawing a SAVE_INTERVAL_S per browser, and the page
# saves nothing more once the store holds MAX_DRAWINGS (MAX_DRAWINGS_ENV overrides it).
SAVE_INTERVAL_S = 1.0
ADMIN_PASSWORD_ENV = "MNIST_DRAW_ADMIN_PASSWORD"  # set: only a signed-in admin retrains or switches models
MAX_DRAWINGS = 50_000  # about 1 KB each without the originals: tens of MB, not a full disk
MAX_DRAWINGS_ENV = "MNIST_DRAW_MAX_DRAWINGS"


# Limits so one visitor cannot spoil a shared server for the others (ui/server/limits.py; README
# "Sharing one server"). A visitor is its browser's id cookie, and also its address (behind nginx on
# the same machine: the address nginx saw). Each may be changed with MNIST_DRAW_LIMIT_<NAME>, e.g.
# MNIST_DRAW_LIMIT_SESSIONS_PER_ADDRESS_PER_MINUTE=400 for a school whose visitors share one router.
LIMITS = {
    "PREDICT_IN_FLIGHT": 4,  # first-second canvas predictions (PREDICT_ROUTE) answered at once, server-wide...
    "PREDICT_IN_FLIGHT_PER_BROWSER": 2,  # ...and per browser (a stroke at a time: 1; a reload: 2)...
    "PREDICT_IN_FLIGHT_PER_ADDRESS": 3,  # ...and per address, below the server-wide cap: a client that
    # invents a cookie for each request never holds every place (a class's strokes take ms each)
    "SESSIONS_PER_BROWSER_PER_MINUTE": 20,  # Streamlit sessions (page loads, reconnects) one browser opens
    "OPEN_SESSIONS_PER_BROWSER": 12,  # tabs one browser keeps open at once
    "SESSIONS_PER_ADDRESS_PER_MINUTE": 150,  # a class of 30 behind one router, first visits and reloads
    "OPEN_SESSIONS_PER_ADDRESS": 120,  # that class with a few tabs each
    "UPLOADS_IN_FLIGHT": 4,  # pictures being uploaded at once (each at most MAX_UPLOAD_MB), server-wide...
    "UPLOADS_IN_FLIGHT_PER_BROWSER": 1,
    "UPLOADS_PER_BROWSER_PER_MINUTE": 20,  # ...and per browser a minute...
    "UPLOADS_IN_FLIGHT_PER_ADDRESS": 3,  # ...and per address, whatever cookie each request makes up
    "UPLOADS_PER_ADDRESS_PER_MINUTE": 120,  # a class of 30, a few pictures each
}
LIMIT_ENV_PREFIX = "MNIST_DRAW_LIMIT_"
# uvicorn's (Streamlit's server): the peers whose X-Forwarded-For it believes, by default the loopback
# addresses (nginx on the same machine). compose.yaml sets "*": its replicas are reached only via nginx.
TRUSTED_PROXIES_ENV = "FORWARDED_ALLOW_IPS"
LIMIT_WINDOW_S = 60.0  # the "minute" of the limits above
PREDICT_BODY_TIMEOUT_S = 5.0  # a canvas's PNG arrives in milliseconds; a slower one gives its place up


def limit(name: str) -> int:
    """One of LIMITS, or a positive MNIST_DRAW_LIMIT_<NAME> that overrides it."""
    try:
        return max(1, int(os.environ[LIMIT_ENV_PREFIX + name]))
    except (KeyError, ValueError):
        return LIMITS[name]


def max_drawings() -> int:
    """How many drawings the page may keep: MAX_DRAWINGS, or a positive MNIST_DRAW_MAX_DRAWINGS."""
    try:
        return max(1, int(os.environ[MAX_DRAWINGS_ENV]))
    except (KeyError, ValueError):
        return MAX_DRAWINGS

# "A number" on the Draw tab: a wide canvas (width, height) for up to MAX_NUMBER_DIGITS digits.
NUMBER_CANVAS = (700, 280)
MAX_NUMBER_DIGITS = 8

"""Pictures uploaded on the Draw tab that are too big, too many pixels, cut off, or rotated by
their EXIF tag: one clear sentence (what is wrong, what to do) or the upright digit, never a
traceback, and the rest of the page keeps working."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnist_cnn.config import MAX_IMAGE_PIXELS, MAX_UPLOAD_MB, REPO_ROOT
from mnist_cnn.reading.preprocess import ImageError, image_to_mnist

APP = str(REPO_ROOT / "app.py")
ORIENTATION = 0x0112  # the EXIF tag a phone sets instead of rotating the pixels
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def a_seven(size=(300, 400)) -> Image.Image:
    """Dark ink on light paper, like a photo; a 7 reads differently on its side or upside down."""
    image = Image.new("L", size, 235)
    draw = ImageDraw.Draw(image)
    draw.line([(60, 70), (240, 70)], fill=20, width=24)
    draw.line([(240, 70), (120, 340)], fill=20, width=24)
    return image


def huge(width: int, height: int) -> bytes:
    """A blank picture of that many pixels: a few kilobytes of PNG (a decompression bomb)."""
    return encode(Image.new("1", (width, height), 1))


def refusal(data: bytes) -> str:
    with pytest.raises(ImageError) as caught:
        image_to_mnist(data)
    message = str(caught.value)
    assert "\n" not in message and "Errno" not in message and "Traceback" not in message
    return message


# ---------- the function the upload calls ----------

def test_a_picture_over_40_megapixels_is_refused_before_it_is_decoded():
    data = huge(8000, 6000)  # 48 megapixels in ~60 KB
    assert len(data) < MAX_UPLOAD_MB * 1024 * 1024  # the upload's byte limit does not stop it
    message = refusal(data)
    assert "8000x6000" in message and f"under {MAX_IMAGE_PIXELS // 1_000_000} megapixels" in message


def test_a_picture_over_pillows_own_bomb_limit_gets_the_same_sentence():
    message = refusal(huge(20000, 10000))  # 200 megapixels: Pillow refuses to open it at all
    assert "too large" in message and f"under {MAX_IMAGE_PIXELS // 1_000_000} megapixels" in message
    assert "not a picture" not in message


def test_a_picture_just_under_the_limit_is_read():
    assert image_to_mnist(encode(a_seven((6000, 6000)).resize((6000, 6000)))) is not None  # 36 megapixels


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kept", [0.5, 0.05])
def test_a_cut_off_picture_says_it_is_damaged(fmt, kept):
    data = encode(a_seven().convert("RGB"), fmt)
    message = refusal(data[: max(16, int(len(data) * kept))])
    assert "damaged or incomplete" in message and "again" in message


def test_a_file_that_is_no_picture_says_which_pictures_work():
    for data in (b"hello, this is a text file\n", b"BMW and other notes", b"", bytes(range(256))):
        message = refusal(data)
        assert "not a picture" in message and "PNG" in message and "JPEG" in message


@pytest.mark.parametrize("orientation, stored_as", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                                    (8, Image.Transpose.ROTATE_270)])
def test_a_photo_rotated_by_its_exif_tag_is_read_upright(orientation, stored_as, improved_clf):
    upright = image_to_mnist(encode(a_seven(), "JPEG"))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored = a_seven().transpose(stored_as)  # the pixels as the camera wrote them
    read = image_to_mnist(encode(stored, "JPEG", exif=exif.tobytes()))
    without_tag = image_to_mnist(encode(stored, "JPEG"))
    assert np.abs(read - upright).mean() < 0.01 < np.abs(without_tag - upright).mean()
    assert int(improved_clf.predict_proba(read[None])[0].argmax()) == 7


# ---------- through the page (AppTest: the uploader, without a browser) ----------

@pytest.fixture(scope="module")
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["tab"] = "Draw"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader(key="upload").set_value((name, data, mime))
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def predictions(at: AppTest) -> list[str]:
    return [m.value for m in at.metric if m.label == "Prediction"]


def test_the_uploader_and_the_server_both_cap_uploads_at_5_mb(page):
    """Over 5 MB the browser refuses the file with its own message ("File must be 5.0MB or
    smaller"), and a request that goes around the browser is refused by the server (413)."""
    assert page.file_uploader(key="upload").proto.max_upload_size_mb == MAX_UPLOAD_MB
    config = (Path(REPO_ROOT) / ".streamlit" / "config.toml").read_text()  # Python 3.10 has no tomllib
    assert re.search(r"^maxUploadSize\s*=\s*(\d+)", config, re.M).group(1) == str(MAX_UPLOAD_MB)


BAD_UPLOADS = {
    "bomb.png": (huge(8000, 6000), "8000x6000"),
    "cut-off.jpg": (encode(a_seven(), "JPEG")[:900], "damaged or incomplete"),
    "notes.png": (b"shopping list: milk, eggs\n", "not a picture"),
}


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_a_bad_upload_gets_one_error_line_and_the_canvas_keeps_working(page, name):
    data, says = BAD_UPLOADS[name]
    at = upload(page, name, data)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"{name}: ") and says in errors[0] and "\n" not in errors[0]
    assert predictions(at) == ["—"]  # the canvas still answers; the bad picture got no prediction
    assert at.slider(key="stroke_width").value > 0


def test_an_exif_rotated_photo_uploaded_on_the_page_reads_as_the_upright_digit(page):
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    at = upload(page, "phone.jpg", encode(a_seven().transpose(Image.Transpose.ROTATE_90), "JPEG",
                                          exif=exif.tobytes()), "image/jpeg")
    assert not at.error
    assert predictions(at) == ["—", "7"]

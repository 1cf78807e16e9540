# The app's image: `streamlit run app.py` with the shipped models, listening on port 8501.
# compose.yaml runs two of these behind nginx with PostgreSQL (README: "Running for a class /
# several servers"). One replica alone: docker run -p 8501:8501 -v mnist-draw:/data/home mnist-draw
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MNIST_DRAW_HOME=/data/home

WORKDIR /app
# The pins first, so a change to the code does not reinstall TensorFlow.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY app.py pyproject.toml README.md ./
COPY .streamlit .streamlit
COPY mnist_cnn mnist_cnn
COPY models models

# Not root. The folders a volume is mounted on are made here, so a new volume is the app's to write:
# MNIST_DRAW_HOME (retrained models, the current choice, SQLite when there is no database) and
# Keras' cache, where MNIST is downloaded to when MNIST_DATA_DIR is not set.
RUN useradd --create-home --uid 10001 app \
    && mkdir -p /data/home /home/app/.keras/datasets \
    && chown -R app:app /data/home /home/app/.keras
USER app

EXPOSE 8501
# Streamlit's health check answers once the server has warmed up (ui/server/startup.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]

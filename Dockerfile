# limconn for a lab server: docker build -t limconn . && docker run -p 8501:8501 -v limconn-data:/data limconn
# (README: "Hosting for a lab" lists every environment variable.)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIMCONN_HOME=/data \
    TF_CPP_MIN_LOG_LEVEL=3

# /data is the limconn user's alone (a new named volume takes the mode and owner from here).
RUN useradd --create-home --uid 10001 limconn \
    && install -d -m 0700 -o limconn -g limconn /data

WORKDIR /app
# The exact pins (scripts/lock.sh), as every install reads them.
COPY requirements.txt .
RUN pip install -r requirements.txt
# The code stays root's: the app reads it and writes only under /data. .dockerignore keeps
# .git, caches, run stores and .streamlit/secrets.toml out of the image.
COPY . .
# Bytecode made here, as root: the app's user cannot write /app, so every server start (and
# every training worker) would otherwise compile limconn's modules again on first import.
RUN python -m compileall -q limconn

USER limconn
# Runs, workspaces (designs, settings, job records) and the signing secret live here.
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"

# umask 077: whatever the app and its workers create is private to the limconn user.
CMD ["sh", "-c", "umask 077 && exec streamlit run app.py --server.address=0.0.0.0 --server.port=8501"]

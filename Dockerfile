# limconn for a lab server: docker build -t limconn . && docker run -p 8501:8501 -v limconn-data:/data limconn
# (README: "Hosting for a lab" lists every environment variable.)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIMCONN_HOME=/data \
    TF_CPP_MIN_LOG_LEVEL=3

RUN useradd --create-home --uid 10001 limconn \
    && mkdir /data && chown limconn:limconn /data

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --chown=limconn:limconn . .

USER limconn
# Runs, workspaces (designs, settings, job records) and the signing secret live here.
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"

CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]

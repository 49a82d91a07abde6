# GAZE: one process (waitress, several threads; the job queue lives in the process).
# Build and run with `docker compose up -d` (see docs/docker.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Pinned requirements first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# An unprivileged user owns only the folders GAZE writes to; the code stays read-only.
RUN groupadd --gid 1000 gaze \
    && useradd --uid 1000 --gid gaze --no-create-home --home-dir /app --shell /usr/sbin/nologin gaze \
    && mkdir -p /data /uploads /instance /models/loras /models/checkpoints /tags \
    && chown gaze:gaze /data /uploads /instance

COPY . .
# The sample library and the LLM system prompts, for a first start without a data volume.
COPY --chown=gaze:gaze data/ /data/

ENV GAZE_HOST=0.0.0.0 \
    GAZE_PORT=5000 \
    GAZE_DATA_DIR=/data \
    GAZE_UPLOADS_DIR=/uploads \
    GAZE_INSTANCE_DIR=/instance \
    GAZE_LORA_ROOT=/models/loras \
    GAZE_CHECKPOINT_ROOT=/models/checkpoints

USER gaze
EXPOSE 5000
VOLUME ["/data", "/uploads", "/instance"]

HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('GAZE_PORT', '5000'), timeout=8)" || exit 1

CMD ["python", "-m", "gaze.serve"]

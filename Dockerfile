# trading-ai-agent: the adaptive_agent live trader as a non-root container.
#
#   docker build -t trading-ai-agent:latest .
#   docker run -d --env-file secrets/agent.env -v agent-data:/data trading-ai-agent:latest
#
# Secrets come from the environment at run time only (never baked in: see .dockerignore).
# The whole stack (agent, InfluxDB, Grafana) is in docker-compose.yml.
#
# Without a registry, scripts/build_image.sh builds it with podman on a local Debian bookworm
# base (python3 3.11 with a venv at /opt/venv first on PATH): --build-arg BASE=<that image>.
# Every step below works on both bases.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_NO_INPUT=1 \
    NUMBA_CACHE_DIR=/opt/numba-cache

RUN groupadd --system --gid 10001 agent \
    && useradd --system --uid 10001 --gid agent --create-home --home-dir /home/agent \
        --shell /usr/sbin/nologin agent \
    && install -d -o agent -g agent -m 0750 /data

WORKDIR /tmp/build

# 1. Dependencies: exactly the pinned file the README's scripts (scripts/setup_env.sh) install.
#    The test suites some of them ship (pandas/tests, numpy/*/tests, conftest.py: ~64 MB with
#    their bytecode) never run here: removed in the same layer. The bytecode of the code that
#    runs stays: without it every start would recompile ccxt and pandas (~8 s more a process).
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && find "$(python -c 'print(__import__("sysconfig").get_path("purelib"))')" \
        \( -type d -name tests -path '*-packages/*/tests' -prune -o -name conftest.py \) \
        -exec rm -rf {} +

# 2. The package itself, resolving nothing again; the build fails unless its command starts.
COPY pyproject.toml README.md ./
COPY adaptive_agent ./adaptive_agent
# The backtest's compiled loop (numba) is compiled here once, into a cache the agent may write.
RUN pip install --no-cache-dir --no-deps . \
    && cd / && rm -rf /tmp/build \
    && adaptive-agent --version && python -m adaptive_agent.policy.health --help >/dev/null \
    && python -m adaptive_agent.backtest.rebalance_backtester \
    && chown -R agent:agent /opt/numba-cache
# (before any further step: a later step would create the build folder again as its workdir)
WORKDIR /data

# The documented default configuration, for --config /app/config/default.toml.
COPY config /app/config

# State, reports and the audit log live on the volume (the agent writes relative to its cwd).
VOLUME ["/data"]
USER 10001:10001

# Healthy while the agent keeps processing 5-minute bars (meta last_bar_ms in the state db).
HEALTHCHECK --interval=60s --timeout=20s --start-period=15m --retries=3 \
    CMD ["python", "-m", "adaptive_agent.policy.health", "--state", "/data/live.sqlite", "--max-age", "900"]

STOPSIGNAL SIGTERM
CMD ["adaptive-agent", "live", "--state", "/data/live.sqlite"]

# pixyproxy: a slim image that runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pixyproxy ./pixyproxy
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/pixyproxy --create-home pixyproxy \
    && install -d -o pixyproxy -g pixyproxy -m 0755 /var/lib/pixyproxy/images
COPY --from=build /install /usr/local
USER pixyproxy
WORKDIR /var/lib/pixyproxy
ENV PIXYPROXY_DATABASE_URL=sqlite:////var/lib/pixyproxy/pixyproxy.db \
    PIXYPROXY_LOCAL_DIR=/var/lib/pixyproxy/images \
    PIXYPROXY_LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["pixyproxy", "serve", "--host", "0.0.0.0", "--port", "8000"]

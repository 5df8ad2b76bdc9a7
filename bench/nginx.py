"""nginx from a generated config, in the foreground, on loopback ports of our choosing.

One server block serves the image directory (the byte-serving ceiling); another fronts a
pixyproxy in `x-accel` mode, serving the file that pixyproxy names in `X-Accel-Redirect`
from an `internal` location.
"""

from __future__ import annotations

import os
from pathlib import Path

STATIC_PREFIX = "/files/"

_CONFIG = """
daemon off;
%(user)s
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    types { image/png png; }
    default_type application/octet-stream;

    server {
        listen 127.0.0.1:%(static_port)d;
        location %(static_prefix)s {
            alias %(images)s/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }

    upstream pixyproxy {
        server 127.0.0.1:%(upstream_port)d;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:%(front_port)d;
        location / {
            proxy_pass http://pixyproxy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
        location %(x_accel_prefix)s {
            internal;
            alias %(images)s/;
        }
    }
}
"""


def write_config(
    work_dir: Path,
    *,
    images_dir: Path,
    static_port: int,
    front_port: int,
    upstream_port: int,
    x_accel_prefix: str,
    workers: int = 1,
) -> Path:
    conf_dir = work_dir / "nginx"
    conf_dir.mkdir(exist_ok=True)
    config = conf_dir / "nginx.conf"
    config.write_text(
        _CONFIG
        % {
            # As root, workers would drop to `nobody` and lose the right to read our files.
            "user": "user root;" if os.geteuid() == 0 else "",
            "workers": workers,
            "dir": conf_dir,
            "images": images_dir.resolve(),
            "static_port": static_port,
            "static_prefix": STATIC_PREFIX,
            "front_port": front_port,
            "upstream_port": upstream_port,
            "x_accel_prefix": x_accel_prefix,
        }
    )
    return config


def argv(config: Path) -> list[str]:
    return [
        "nginx",
        "-p",
        str(config.parent),
        "-e",
        str(config.parent / "nginx-error.log"),
        "-c",
        str(config),
    ]

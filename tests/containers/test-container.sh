#!/usr/bin/env bash
# `make test-container`: every MySQL test (marker `mysql`, the e2e ones included) against a
# throwaway server in a Docker container, with PIXYPROXY_TEST_MYSQL_URL unset; a skip fails.
#
# - Docker engine: the one that answers; else, as root, it starts
#   `dockerd --storage-driver vfs --iptables=false --ip-masq=false --bridge=none` (installing
#   Debian's docker.io first if need be) and stops it at the end, however the run ends.
# - Image: PIXYPROXY_TEST_MYSQL_IMAGE if set; else the tests' default (mysql:8.4) if the engine
#   has it or can pull it; else pixyproxy-test-mariadb:local, built from Debian's packages by
#   build-mariadb-image.sh on the first run and reused after.
# Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=.venv/bin/python
OWNER_LABEL=$($PYTHON -c 'from tests.support.containers import OWNER_LABEL as l; print(l)')
step_started=$SECONDS
step() { echo "test-container: $1 ($((SECONDS - step_started)) s)"; step_started=$SECONDS; }

engine_answers() { docker info >/dev/null 2>&1; }

dockerd_pid=""
dockerd_log=""
pytest_pid=""
# shellcheck disable=SC2317  # reached through the traps
finish() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$pytest_pid" ] && kill -0 "$pytest_pid" 2>/dev/null; then
    # The tests take SIGTERM as Ctrl-C and remove their container before they end.
    kill -TERM "$pytest_pid" 2>/dev/null || true
    wait "$pytest_pid" 2>/dev/null || true
  fi
  if [ -n "$dockerd_pid" ]; then
    # Everything on this engine was started by this run: leave no container behind.
    docker ps -aq --filter "label=$OWNER_LABEL" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    echo "test-container: stopped the Docker engine it had started"
    # Its log is worth keeping only when something went wrong.
    if [ "$status" = 0 ]; then rm -f "$dockerd_log"; else echo "test-container: its log: $dockerd_log"; fi
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_docker() {
  echo "test-container: installing Debian's docker.io"
  # Keep the package from starting the engine with its default, bridged network.
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
  fi
  local status=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; } \
    >/tmp/pixyproxy-docker-install.log 2>&1 || status=$?
  [ -z "$added_policy" ] || rm -f "$policy"
  if [ "$status" != 0 ]; then
    tail -n 20 /tmp/pixyproxy-docker-install.log >&2
    return "$status"
  fi
}

if engine_answers; then
  step "a Docker engine answers; using it"
else
  if [ "$(id -u)" != 0 ]; then
    echo "test-container: no Docker engine answers; start one, or run as root to let this start it" >&2
    exit 1
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then install_docker; fi
  dockerd_log=$(mktemp /tmp/pixyproxy-dockerd.XXXXXX.log)
  # A session of its own: Ctrl-C reaches the tests, which then remove their container, and the
  # engine only after that, from finish().
  setsid dockerd --storage-driver vfs --iptables=false --ip-masq=false --bridge=none \
    </dev/null >"$dockerd_log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    engine_answers && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
  if ! engine_answers; then
    echo "test-container: dockerd did not start; its log ($dockerd_log):" >&2
    tail -n 20 "$dockerd_log" >&2
    exit 1
  fi
  step "started dockerd (pid $dockerd_pid)"
fi

image=${PIXYPROXY_TEST_MYSQL_IMAGE:-}
local_image=$($PYTHON -c 'from tests.support.mysql_container import LOCAL_IMAGE as i; print(i)')
if [ -z "$image" ]; then
  image=$($PYTHON -c 'from tests.support.mysql_container import DEFAULT_IMAGE as i; print(i)')
  if ! docker image inspect "$image" >/dev/null 2>&1 && ! pull_error=$(docker pull -q "$image" 2>&1); then
    echo "test-container: $image cannot be pulled here (${pull_error##*: }); using $local_image"
    image=$local_image
  fi
fi
if [ "$image" = "$local_image" ]; then
  bash tests/containers/build-mariadb-image.sh
fi
step "image $image ready"

echo "test-container: the MySQL tests against a throwaway $image container"
# In the background, so that a signal to this script is handled at once (passed on in finish).
env -u PIXYPROXY_TEST_MYSQL_URL PIXYPROXY_TEST_MYSQL_IMAGE="$image" PIXYPROXY_TEST_REQUIRE=mysql \
  .venv/bin/pytest -m mysql "$@" &
pytest_pid=$!
status=0
wait "$pytest_pid" || status=$?
pytest_pid=""
step "tests done"
exit "$status"

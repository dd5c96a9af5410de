#!/usr/bin/env bash
# ensure-services.sh makes sure the Postgres and Redis that the tests talk to are up.
# Order of attempts for each: already reachable -> a local server we can start ->
# `docker compose up` where a Docker engine exists. When none works it says plainly what
# is missing and exits non-zero, so tests never silently skip.
set -u
PGHOST_=${TANDEM_TEST_PGHOST:-127.0.0.1}
PGPORT_=${TANDEM_TEST_PGPORT:-5432}
REDIS_HOST_=${TANDEM_TEST_REDIS_HOST:-127.0.0.1}
REDIS_PORT_=${TANDEM_TEST_REDIS_PORT:-6379}

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PGHOST_" -p "$PGPORT_" -t 2
  else
    (exec 3<>"/dev/tcp/$PGHOST_/$PGPORT_") 2>/dev/null
  fi
}
redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST_" -p "$REDIS_PORT_" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST_/$REDIS_PORT_") 2>/dev/null
  fi
}
wait_for() { # name check-fn
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  return 1
}
have_docker() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

missing=()
if ! pg_up; then
  echo "ensure-services: Postgres not reachable on $PGHOST_:$PGPORT_, trying to start it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for ver in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    done
  elif have_docker; then
    docker compose -f docker-compose.test.yml up -d postgres >/dev/null 2>&1 || true
  fi
  wait_for postgres pg_up || missing+=("Postgres on $PGHOST_:$PGPORT_ (install postgresql, or run 'docker compose -f docker-compose.test.yml up -d postgres')")
fi
if ! redis_up; then
  echo "ensure-services: Redis not reachable on $REDIS_HOST_:$REDIS_PORT_, trying to start it" >&2
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT_" --save "" --appendonly no >/dev/null 2>&1 || true
  elif have_docker; then
    docker compose -f docker-compose.test.yml up -d redis >/dev/null 2>&1 || true
  fi
  wait_for redis redis_up || missing+=("Redis on $REDIS_HOST_:$REDIS_PORT_ (install redis-server, or run 'docker compose -f docker-compose.test.yml up -d redis')")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-services: cannot run the tests, missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
# The test database must exist (trust auth, user postgres).
if command -v psql >/dev/null 2>&1; then
  psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
fi
echo "ensure-services: Postgres $PGHOST_:$PGPORT_ and Redis $REDIS_HOST_:$REDIS_PORT_ are up"

#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and Redis (127.0.0.1:6379)
# answer, starting them, or installing and starting them from Debian's packages, where they don't.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
DATABASES=(identity diary reminders outcomes)

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  local host=$1 port=$2 name=$3
  for _ in $(seq 1 60); do port_open "$host" "$port" && return 0; sleep 0.5; done
  echo "backing-services: $name did not come up on $host:$port" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "backing-services: need root to install $*" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  port_open "$PGHOST" "$PGPORT" && return 0
  echo "backing-services: starting PostgreSQL"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # A machine for tests: local connections as postgres need no password, as on the CI machines.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for "$PGHOST" "$PGPORT" PostgreSQL
}

ensure_redis() {
  port_open 127.0.0.1 "$REDIS_PORT" && return 0
  echo "backing-services: starting Redis"
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 127.0.0.1 "$REDIS_PORT" Redis
}

ensure_databases() {
  for db in "${DATABASES[@]}"; do
    if ! psql -h "$PGHOST" -p "$PGPORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
      psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "CREATE DATABASE $db" >/dev/null
    fi
  done
}

ensure_postgres
ensure_redis
ensure_databases

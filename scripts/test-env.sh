# Environment for one test suite on this machine's PostgreSQL and Redis. Source it, then call
# suite_env NAME REDIS_DB to point DATABASE_URL, CACHE_URL and BROKER_URL at that suite's own.
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-test-only-secret-key-not-for-deployment}
export SECURE_COOKIES=false
export PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

suite_env() {
  local name=$1 redis_db=$2
  export DATABASE_URL="$PG_URL/$name"
  export CACHE_URL="$REDIS_URL/$redis_db"
  export BROKER_URL="$REDIS_URL/$redis_db"
}

"""A fresh PostgreSQL database of its own for a benchmark, beside the test suites' databases."""

from __future__ import annotations

import os
from urllib.parse import urlparse, urlunparse

import psycopg2
from psycopg2 import sql


def bench_database_url(name: str) -> str:
    """The DATABASE_URL of the environment (`make bench` sets it) with the database ``name``."""
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"))
    return urlunparse(base._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    """Drop the database of ``url`` (closing its connections) and create it empty."""
    parsed = urlparse(url)
    connection = psycopg2.connect(urlunparse(parsed._replace(path="/postgres")))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            name = sql.Identifier(parsed.path.lstrip("/"))
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    finally:
        connection.close()

"""Helpers of the deployment checks: where things are, the pinned sources of the published
schemas, compose's variable substitution, the settings each service cannot start without, and a
reader of the gateway's routing table.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shlex
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "diary", "reminders", "outcomes")
CACHE = REPO / "var" / "cache" / "deploy-tests"
NGINX_CONF = REPO / "deploy" / "nginx" / "nginx.conf"
DOWNLOAD_SECONDS = 120
# Values compose would take from .env; the file must need nothing else to be complete.
COMPOSE_TEST_ENV = {"POSTGRES_PASSWORD": "compose-test-password", "DJANGO_SECRET_KEY": "x" * 50}
# What the gateway must send where: the URL prefixes of ARCHITECTURE.md, plus static files.
EXPECTED_ROUTES = {
    **{
        f"/{kind}/{service}/": service
        for kind in ("api", "admin", "static")
        for service in SERVICES
    },
    "/dashboard/": "outcomes",
}


# --- pinned downloads --------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]


# The Compose Specification's schema, as vendored (and kept current) by check-jsonschema.
COMPOSE_SCHEMA_WHEEL = Wheel(
    project="check-jsonschema",
    version="0.39.0",
    url=(
        "https://files.pythonhosted.org/packages/06/e9/644e47c8b929f14cbda2b6779be047caa2098cc06f"
        "8bd7e04e8c62416cdc/check_jsonschema-0.39.0-py3-none-any.whl"
    ),
    sha256="14ce5c94871c551268ea948ffe21e9f1464dc48fb20bf9a4c13deeaaf756cf9b",
)
COMPOSE_SCHEMA_MEMBER = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"

# Kubernetes' OpenAPI as JSON schemas; the "strict" variant refuses unknown fields (typos).
K8S_SCHEMA_WHEEL = Wheel(
    project="kubernetes-validate",
    version="1.37.0",
    url=(
        "https://files.pythonhosted.org/packages/b0/50/104f3b5a41aba6737c5f2ffe76270398f3a7320dc4"
        "a4f3f88dfd5bc9af63/kubernetes_validate-1.37.0-py3-none-any.whl"
    ),
    sha256="85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9",
)
# The oldest Kubernetes release the manifests promise to work with.
K8S_VERSION = "v1.32.0"
K8S_SCHEMA_DIR = f"kubernetes_validate/kubernetes-json-schema/{K8S_VERSION}-local-strict/"


def _download(wheel: Wheel, target: Path) -> None:
    deadline = time.monotonic() + DOWNLOAD_SECONDS
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    # A pinned https URL, checked against its hash below.
    with (
        urllib.request.urlopen(wheel.url, timeout=30) as response,  # noqa: S310
        partial.open("wb") as out,
    ):
        while chunk := response.read(1 << 16):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not complete after {DOWNLOAD_SECONDS} s")
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != wheel.sha256:
        partial.unlink()
        raise ValueError(f"sha256 {digest.hexdigest()} is not the pinned {wheel.sha256}")
    partial.replace(target)


def fetch_wheel(wheel: Wheel) -> Path:
    """The pinned wheel from the cache, or downloaded once; fails the run when unobtainable."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / wheel.filename
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == wheel.sha256:
        return target
    try:
        _download(wheel, target)
    except Exception as exc:  # every failure ends the same way: a clear message, never a skip
        error = f"{type(exc).__name__}: {exc}"
    else:
        return target
    pytest.fail(
        f"Cannot obtain {wheel.project} {wheel.version}, which ships a schema these checks "
        f"need: {error}.\nIt is downloaded from {wheel.url} (sha256 {wheel.sha256}). "
        f"Without access to PyPI, put that file at {target} and run the tests again.",
        pytrace=False,
    )


# --- compose -----------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_BRACED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.DOTALL)


class MissingVariable(Exception):
    """A ${NAME:?message} whose variable is not set: compose stops with the message."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${NAME}, ${NAME:-default}, ${NAME:?error}, $$, ..."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(2):
            return env.get(match.group(2), "")
        parsed = _BRACED.match(match.group(1))
        if not parsed:
            raise ValueError(f"invalid interpolation {match.group(0)!r}")
        name, operator, argument = parsed.groups()
        current = env.get(name)
        unset = current is None or (current == "" and bool(operator) and operator[0] == ":")
        if operator in (":-", "-"):
            return argument if unset else str(current)
        if operator in (":?", "?"):
            if unset:
                raise MissingVariable(f"{name}: {argument}")
            return str(current)
        if operator in (":+", "+"):
            return "" if unset else argument
        return current or ""

    return _VARIABLE.sub(substitute, value)


# --- settings the services cannot start without ------------------------------------------------

_ENV_READERS = {
    "env_str",
    "env_int",
    "env_bool",
    "env_list",
    "env_url",
    "env_database",
    "env_cache",
}
_DEFAULT_NAMES = {"env_database": "DATABASE_URL", "env_cache": "CACHE_URL"}


def _required_in(path: Path) -> set[str]:
    required: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        reader = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if reader not in _ENV_READERS:
            continue
        keywords = {kw.arg: kw.value for kw in node.keywords}
        name_node = node.args[0] if node.args else keywords.get("name")
        default = node.args[1] if len(node.args) > 1 else keywords.get("default")
        if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
            name = name_node.value
        elif name_node is None and reader in _DEFAULT_NAMES:
            name = _DEFAULT_NAMES[reader]
        else:
            continue
        if default is None or (isinstance(default, ast.Name) and default.id == "REQUIRED"):
            required.add(name)
    return required


def required_settings(service: str) -> set[str]:
    """Environment variables without a default that the service's code (or shared/) reads."""
    required: set[str] = set()
    for root in (REPO / "shared" / "src" / "shared", REPO / "services" / service):
        for path in root.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            required |= _required_in(path)
    return required


# --- the gateway's routing table ---------------------------------------------------------------

_MAP_BLOCK = re.compile(r"map\s+\$uri\s+\$service_upstream\s*\{(?P<body>[^}]*)\}", re.DOTALL)
_MAP_ENTRY = re.compile(r"^\s*(?P<pattern>\S+)\s+(?P<value>\S+?);", re.MULTILINE)


def gateway_map(config: str) -> dict[str, str]:
    """The entries of the gateway's prefix -> upstream map (pattern -> 'host:port' or '""')."""
    block = _MAP_BLOCK.search(config)
    if block is None:
        raise AssertionError("the gateway has no `map $uri $service_upstream` routing table")
    return {m["pattern"]: m["value"] for m in _MAP_ENTRY.finditer(block["body"])}


def gateway_route(config: str, path: str) -> str | None:
    """The upstream ('host:port') the gateway's map gives a path, as nginx would choose it."""
    for pattern, value in gateway_map(config).items():
        if pattern.startswith("~") and re.search(pattern[1:], path):
            return value
    return None


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if Path(candidate).is_file():
            return candidate
    return None


# --- the image ---------------------------------------------------------------------------------

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


def dockerfile_instructions(service: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile as built with --build-arg SERVICE=<service>."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    instructions = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        arguments = arguments.replace("${SERVICE}", service).replace("$SERVICE", service)
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_env(service: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions(service):
        if keyword == "ENV":
            for token in shlex.split(arguments):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts) + r"\Z")


def in_build_context(relative: str) -> bool:
    """Whether .dockerignore lets a path into the build context (the last matching rule wins,
    and a rule matching a directory applies to everything inside it)."""
    rules = []
    for raw in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        rules.append((negate, _ignore_regex(pattern.strip("/"))))
    path = relative.strip("/")
    candidates = [path] + [str(p) for p in PurePosixPath(path).parents if str(p) != "."]
    included = True
    for negate, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            included = negate
    return included

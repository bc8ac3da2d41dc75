"""Static checks of the engine's container build files (engine/Dockerfile.api, .worker).

They cannot be built here (no Docker daemon); scripts/check-infra lints them with hadolint. These
tests hold what hadolint cannot know: the images install this repository's package, every one of
its packages reaches the image, and the commands they run exist.
"""

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from correction_engine.cli import build_parser
from correction_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TEMPLATE = load_template(ROOT / "engine" / "template.yaml")
API_COMMAND = ["correction-engine", "serve", "--backend", "aws", "--host", "0.0.0.0", "--port", "8080"]
WORKER_HANDLER = "correction_engine.aws.worker.handler"


def _instructions(name):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "engine" / name).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def _args(name, instruction):
    return [rest for found, rest in _instructions(name) if found == instruction]


def _exec_form(rest):
    assert rest.startswith("["), f"exec form expected: {rest}"
    return [part.strip().strip('"') for part in rest.strip("[]").split(",")]


@pytest.mark.parametrize(
    ("name", "base"),
    [("Dockerfile.api", "python:3.12-slim"), ("Dockerfile.worker", "public.ecr.aws/lambda/python:3.12")],
)
def test_base_image_is_the_designed_one_pinned_by_tag(name, base):
    (image,) = _args(name, "FROM")
    repository, _, tag = image.rpartition(":")
    assert image.startswith(base)
    assert repository and tag and tag != "latest"


@pytest.mark.parametrize("name", ["Dockerfile.api", "Dockerfile.worker"])
def test_image_installs_every_package_of_this_repository_with_the_engine_extra(name):
    copied = set()
    for rest in _args(name, "COPY"):
        *sources, _ = shlex.split(rest)
        copied.update(source.rstrip("/") for source in sources)
    # What setuptools reads to build the package: its metadata, readme and package folders.
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} <= copied
    package_dirs = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert set(package_dirs.values()) <= copied
    installs = [rest for rest in _args(name, "RUN") if re.search(r"pip install\b.*\./\[engine\]", rest)]
    assert installs, "the image must pip install the repository with the engine extra"


def test_every_package_folder_is_declared_so_it_reaches_the_images():
    """The package list is explicit: a new subpackage missing from it is missing from the image."""
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            dotted = ".".join([package, *relative.parts])
            assert dotted in declared, f"{dotted} is not in pyproject.toml's packages"


def test_api_image_runs_the_documented_serve_command_as_a_user_that_is_not_root():
    (command,) = _args("Dockerfile.api", "CMD")
    assert _exec_form(command) == API_COMMAND
    users = _args("Dockerfile.api", "USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    # The CLI accepts that command line (the --backend flag exists, the values parse).
    parsed = build_parser().parse_args(API_COMMAND[1:])
    assert (parsed.backend, parsed.host, parsed.port) == ("aws", "0.0.0.0", 8080)
    assert _args("Dockerfile.api", "EXPOSE") == ["8080"]


def test_worker_image_runs_the_handler_the_stack_names_and_the_handlers_exist():
    (command,) = _args("Dockerfile.worker", "CMD")
    assert _exec_form(command) == [WORKER_HANDLER]
    functions = {
        name: r["Properties"]
        for name, r in TEMPLATE["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert functions["WorkerFunction"]["ImageConfig"]["Command"] == [WORKER_HANDLER]
    for name, props in functions.items():
        assert TEMPLATE["Resources"][name]["Metadata"]["Dockerfile"] == "engine/Dockerfile.worker"
        (handler,) = props["ImageConfig"]["Command"]
        module, _, attribute = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), handler


def test_build_context_leaves_out_photos_tests_local_output_and_virtualenvs():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"datasets", "tests", "local-output", ".venv"} <= ignored
    # Nothing the images copy is ignored (the build would fail on a missing path).
    for name in ("Dockerfile.api", "Dockerfile.worker"):
        for rest in _args(name, "COPY"):
            *sources, _ = shlex.split(rest)
            assert not any(source.split("/")[0] in ignored for source in sources), sources

"""The dependency lock (requirements/*.txt, written by `make lock`): every dependency of
pyproject.toml is pinned exactly with hashes, and the environment the tests run in is exactly
the locked set (`make` rebuilds .venv from requirements/dev.txt whenever it changes)."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "app": (ROOT / "requirements" / "app.txt", []),
    "dev": (ROOT / "requirements" / "dev.txt", ["dev"]),
    "bench": (ROOT / "requirements" / "bench.txt", ["dev", "bench"]),
}


def locked(path: Path) -> dict[str, Requirement]:
    """The requirements of a lock file, continuation lines joined, by canonical name."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    requirements = {}
    for line in text.splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = re.findall(r"--hash=sha256:[0-9a-f]{64}", line)
        requirement = Requirement(re.sub(r"\s*--hash=\S+", "", line))
        assert hashes, f"{path.name}: {requirement.name} has no hash"
        requirements[canonicalize_name(requirement.name)] = requirement
    return requirements


def declared(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_declared_dependency_is_pinned_exactly_within_its_range(lock):
    path, extras = LOCKS[lock]
    pins = locked(path)
    for requirement in declared(extras):
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{path.name} lacks {requirement.name}: run `make lock`"
        (specifier,) = pin.specifier
        assert specifier.operator == "==", f"{path.name}: {pin} is not an exact pin"
        assert requirement.specifier.contains(specifier.version, prereleases=True), (
            f"{path.name} pins {pin}, outside pyproject.toml's {requirement}: run `make lock`"
        )


def test_the_test_environment_is_exactly_the_dev_lock():
    pins = {name: pin for name, pin in locked(LOCKS["dev"][0]).items() if pin.marker is None or pin.marker.evaluate()}
    installed = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    wrong = {
        name: (installed.get(name), str(pin.specifier))
        for name, pin in pins.items()
        if name not in installed or not pin.specifier.contains(installed[name], prereleases=True)
    }
    assert not wrong, f"installed versions differ from requirements/dev.txt (run make install): {wrong}"
    # pip and setuptools come with the virtualenv itself; elvdesk is this checkout (an old
    # editable install leaves elvdesk.egg-info in it); anything else is not locked.
    extra = set(installed) - set(pins) - {"pip", "setuptools", "wheel", "elvdesk"}
    assert not extra, f"installed but not in requirements/dev.txt: {sorted(extra)}"

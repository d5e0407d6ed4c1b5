"""A venv on NixOS: units realised by the nixos-rebuild double cannot see Debian's libstdc++ (NixOS has no
/usr/lib), the stand-in store holds real copies for `lib.makeLibraryPath [ stdenv.cc.cc.lib zlib ]`, and the
TabbyAPI double fails with the dynamic loader's error when the library cannot be found, as `import torch` does."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devcluster.local import nixos_host
from devcluster.nixos.rebuild import make_store
from devcluster.nixos.rebuild.units import HIDDEN_LIBS, parse_unit, render_service
from hydra_ops import PROJECT_ROOT

DOUBLE = PROJECT_ROOT / "devcluster/doubles/tabbyapi_double/main.py"
LIBSTDCXX = Path(HIDDEN_LIBS[0].lstrip("-"))
LOADER_ERROR = "ImportError: libstdc++.so.6: cannot open shared object file: No such file or directory"


def test_every_realised_unit_hides_debians_libstdcxx(tmp_path: Path) -> None:
    assert LIBSTDCXX.is_file() and not LIBSTDCXX.is_symlink()  # the file behind the soname's link
    text = render_service(tmp_path, "tabbyapi", {"serviceConfig": {"ExecStart": "/bin/true",
                                                                   "InaccessiblePaths": "/srv/private"}})
    hidden = [v for k, v in parse_unit(text)["Service"] if k == "InaccessiblePaths"]
    assert hidden == ["/srv/private", f"-{LIBSTDCXX}"]  # the unit's own entry stays


def test_the_store_holds_real_copies_of_the_wheels_libraries(tmp_path: Path) -> None:
    pkgs = make_store(tmp_path, nixos_host.store_packages("/opt/ollama"))
    assert pkgs["stdenv.cc.cc.lib"]["name"] == "gcc-12.2.0-lib"
    for attr, soname in (("stdenv.cc.cc.lib", "libstdc++.so.6"), ("zlib", "libz.so.1")):
        copy = tmp_path / pkgs[attr]["outPath"].lstrip("/") / "lib" / soname
        assert copy.is_file() and not copy.is_symlink(), copy  # visible where Debian's file is hidden
    assert "findmnt" in os.listdir(tmp_path / pkgs["util-linux"]["outPath"].lstrip("/") / "bin")


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory the unprivileged user can read: the double and the venv's PyYAML (its one dependency)."""
    with tempfile.TemporaryDirectory(prefix="tabby-libs-") as scratch:
        work = Path(scratch)
        work.chmod(0o755)
        shutil.copyfile(DOUBLE, work / "main.py")
        shutil.copytree(Path(yaml.__file__).parent, work / "site" / "yaml")
        shutil.copyfile(LIBSTDCXX, work / "libstdc++.so.6")  # what the store's stdenv.cc.cc.lib holds
        yield work


def _double(work: Path, library_path: str) -> subprocess.CompletedProcess[str]:
    """Start the double as nobody with Debian's libstdc++ hidden the way InaccessiblePaths= hides it (an empty
    0000 file mounted over it, in a private mount namespace)."""
    blocked = work / "inaccessible"
    blocked.touch(mode=0o000)
    env = f"PYTHONPATH={shlex.quote(str(work / 'site'))} LD_LIBRARY_PATH={shlex.quote(library_path)}"
    script = (f"mount --bind {shlex.quote(str(blocked))} {shlex.quote(str(LIBSTDCXX))} && cd {shlex.quote(str(work))}"
              f" && exec setpriv --reuid=65534 --regid=65534 --clear-groups env {env} /usr/bin/python3 main.py")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30)


def test_the_double_fails_with_the_loaders_error_without_the_library(workdir: Path) -> None:
    proc = _double(workdir, "/run/opengl-driver/lib")  # only the driver's libraries, as before issue 19
    assert proc.returncode == 1
    assert LOADER_ERROR in proc.stderr


def test_the_double_loads_the_library_from_ld_library_path(workdir: Path) -> None:
    proc = _double(workdir, f"{workdir}:/run/opengl-driver/lib")
    assert "ImportError" not in proc.stderr
    assert "config.yml" in proc.stderr  # it got past the libraries to reading its configuration

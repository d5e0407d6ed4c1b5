"""G10: refuse, before any venv is built, a pip extra that the pinned TabbyAPI source does not define.

pip only warns about an unknown extra (`.[cu121]` on a source that defines `cu12`) and installs TabbyAPI without
torch; this check reads the unpacked source's pyproject.toml on the host (python3 >= 3.11, `tomllib`) and stops
the deploy with a message naming the extra and the extras the source does define.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

#: A requirement spec that installs the unpacked source itself with extras: `.[a,b]` or `./[a]`.
LOCAL_SPEC = re.compile(r"^\./?\[(?P<extras>[^\]]*)\]$")

#: Runs on the host: argv = pyproject path, then (spec, extra) pairs; exits 1 with a message on stderr.
CHECK = """\
import re, sys
try:
    import tomllib
except ImportError:
    sys.exit("the TabbyAPI extras check needs python3 >= 3.11 (tomllib) on this host")
path, pairs = sys.argv[1], list(zip(sys.argv[2::2], sys.argv[3::2]))
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
try:
    with open(path, "rb") as f:
        project = tomllib.load(f).get("project", {})
except FileNotFoundError:
    project = {"optional-dependencies": {"none (no pyproject.toml)": []}}
defined = sorted(project.get("optional-dependencies", {}))
known = {norm(d) for d in defined}
bad = [(spec, extra) for spec, extra in pairs if norm(extra) not in known]
for spec, extra in bad:
    print(f"TabbyAPI source {path} defines no extra {extra!r} (tabby_pip_packages: {spec!r}); "
          f"it defines: {', '.join(defined) or 'none'}", file=sys.stderr)
sys.exit(1 if bad else 0)
"""


def requested_extras(packages: Iterable[str]) -> list[tuple[str, str]]:
    """(spec, extra) for every extra asked of the unpacked source itself (e.g. ".[cu12]" gives ("cu12"))."""
    out = []
    for spec in packages:
        match = LOCAL_SPEC.match(spec.strip())
        if match:
            out += [(spec, e.strip()) for e in match["extras"].split(",") if e.strip()]
    return out


def extras_check(app_dir: str, packages: Iterable[str]) -> str:
    """Shell snippet ("...; " or "") that exits non-zero unless <app_dir>/pyproject.toml defines every extra."""
    pairs = requested_extras(packages)
    if not pairs:
        return ""
    args = " ".join(shlex.quote(v) for pair in pairs for v in pair)
    return f"python3 -c {shlex.quote(CHECK)} {shlex.quote(app_dir + '/pyproject.toml')} {args}; "

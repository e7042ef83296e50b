#!/usr/bin/env python3
"""Build a variant release of this tree for the lifecycle scenario (on the controller, after `make dist`).

    build_release.py REPO DIST OUT KIND      KIND: migrate (one extra migration) or fail (two, and fails at start)

OUT gets what the role reads from a dist directory: the wheel (version <tree version>.post1 for migrate,
.post2 for fail), plugins/, and the same requirements, torch pin, installer and wheelhouse as DIST (linked:
the lock is unchanged, only the release differs). The failing release raises once its database is open, so
its migration has run when it fails. Prints the release version.
"""

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

repo, dist, out, kind = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
assert kind in ("migrate", "fail"), kind
base = re.search(r'^version = "([^"]+)"', (repo / "pyproject.toml").read_text(), re.M).group(1)
version = f"{base}.post{1 if kind == 'migrate' else 2}"

with tempfile.TemporaryDirectory(prefix="datavisor-release-") as tmp:
    tree = Path(tmp)
    for name in ("app", "plugins"):
        shutil.copytree(repo / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(repo / name, tree / name)
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'version = "{base}"', f'version = "{version}"', 1))
    init = tree / "app" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    schema = tree / "app" / "schema.py"
    text = schema.read_text()
    marker = "SCHEMA_VERSION = MIGRATIONS[-1][0]"
    assert marker in text
    # The failing release migrates once more than the migrating one, so its rollback finds a schema the
    # previous release refuses and must restore the pre-upgrade backup.
    tables = ["lifecycle_probe"] + (["lifecycle_failed"] if kind == "fail" else [])
    migrations = "".join(
        f'MIGRATIONS.append((MIGRATIONS[-1][0] + 1, ["CREATE TABLE {table} (id INTEGER)"]))\n' for table in tables
    )
    schema.write_text(text.replace(marker, migrations + marker))
    if kind == "fail":
        # After the database is open, i.e. after its migration ran: the rollback must restore the backup.
        main = tree / "app" / "main.py"
        lines = main.read_text().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.strip() == "app.state.db = db")
        lines.insert(at + 1, '    raise RuntimeError("lifecycle scenario: this release fails at start")\n')
        main.write_text("".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("datavisor-*.whl"):
        old.unlink()
    uv = str(dist / "install" / "uv")
    subprocess.run([uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(tree)], check=True)

wheel = next(out.glob("datavisor-*.whl"))
shutil.rmtree(out / "plugins", ignore_errors=True)
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member.startswith("plugins/"):
            archive.extract(member, out)
for name in ("requirements.txt", "torch-requirement.txt", "wheelhouse.tar", "install"):
    link = out / name
    link.unlink(missing_ok=True)
    link.symlink_to((dist / name).resolve())
print(version)

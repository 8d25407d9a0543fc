"""Which source files a job runs, and their hash: code as an input, like data.

A stage's sources are its workflow script, the job function it calls (the job module's own imports, the
function's imports and those of the module's functions it calls), and every mimflow module reachable from
those by import, read statically (function-local imports included). Modules that define registry entries
(an objective's loss, a dataset family's source) are *entry modules*: the walk stops at them, and a job adds
back only the entries it uses, so an edit to one objective reaches that objective's jobs and no other.
A plugin file counts as an entry module with its own mimflow imports.

Imports outside mimflow (torch, numpy, a plugin's own helper packages) are not followed: their versions are
in provenance.json, not in the hash.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "mimflow"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def module_file(module: str) -> Path | None:
    """The file of a mimflow module (a package's __init__.py), or None for a name that is no module."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    parts = module.split(".")[1:]
    base = PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(file: Path) -> str | None:
    """The dotted name of a file inside the mimflow package, or None for a file outside it."""
    try:
        relative = file.resolve().relative_to(PACKAGE_ROOT)
    except ValueError:
        return None
    parts = [PACKAGE, *relative.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _tree(file: Path) -> ast.Module:
    stat = file.stat()
    return _parsed(file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _parsed(file: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(file.read_bytes(), filename=str(file))


def _imported(node: ast.AST, importer: str | None, is_package: bool) -> set[str]:
    """The mimflow modules that the import statements under a node load (relative imports resolved)."""
    found: set[str] = set()
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                if importer is None:
                    continue
                base = importer.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (stmt.level - 1)]
                target = ".".join(base + ([stmt.module] if stmt.module else []))
            else:
                target = stmt.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            found.add(target)
            # `from package import module` loads the module
            found.update(f"{target}.{alias.name}" for alias in stmt.names if module_file(f"{target}.{alias.name}"))
    return {name for name in found if module_file(name)} | {p for name in found for p in _parents(name)}


def imports_of(file: Path) -> set[str]:
    """Every mimflow module a file's import statements load, wherever they stand in it."""
    stat = file.stat()
    return set(_imports_of(file, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=None)
def _imports_of(file: Path, mtime_ns: int, size: int) -> frozenset[str]:
    return frozenset(_imported(_parsed(file, mtime_ns, size), module_name(file), file.name == "__init__.py"))


def _function_imports(file: Path, function: str) -> set[str]:
    """What calling one function of a module imports: the module's top-level imports, the function's own,
    and those of the module's functions it names (followed)."""
    tree = _tree(file)
    name, is_package = module_name(file), file.name == "__init__.py"
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in functions:
        raise ValueError(f"{file}: no function {function!r}")
    top_level = ast.Module(body=[node for node in tree.body if not isinstance(node, (ast.FunctionDef,
                                                                                       ast.AsyncFunctionDef))],
                           type_ignores=[])
    found = _imported(top_level, name, is_package)
    seen, todo = set(), [function]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        found |= _imported(functions[current], name, is_package)
        todo.extend(n.id for n in ast.walk(functions[current]) if isinstance(n, ast.Name) and n.id in functions)
    return found


def closure(modules: set[str], stop: frozenset[str] = frozenset()) -> set[Path]:
    """The files of the given mimflow modules and of every module they import, not entering `stop`."""
    files: set[Path] = set()
    todo = [m for m in modules if m not in stop]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        file = module_file(module)
        if file is None:
            continue
        files.add(file)
        todo.extend(m for m in imports_of(file) if m not in stop and m not in seen)
    return files


def script_job(script: Path) -> tuple[str, str]:
    """(job module, job function) that a workflow script runs: its `from mimflow.jobs.X import f`."""
    for node in _tree(script).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}.jobs."):
            return node.module, node.names[0].name
    raise ValueError(f"{script}: imports no job function from {PACKAGE}.jobs")


def stage_files(script: Path, entry_files: tuple[Path, ...] = (), stop: frozenset[str] = frozenset()) -> list[Path]:
    """Every source file a job of this script runs, given the entry modules (or plugin files) it uses."""
    job_module, job_function = script_job(script)
    job_file = module_file(job_module)
    files = {script.resolve(), job_file}
    files |= closure(_function_imports(job_file, job_function) | set(_parents(job_module)), stop)
    for entry in entry_files:
        entry = entry.resolve()
        files.add(entry)
        name = module_name(entry)
        own_stop = stop - {name} if name else stop
        files |= closure(imports_of(entry) | ({name} if name else set()), frozenset(own_stop))
    return sorted(files)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=None)
def _file_digest(file: Path, mtime_ns: int, size: int) -> str:
    return sha256_bytes(file.read_bytes())


def file_digest(file: Path) -> str:
    """sha256 of a file's bytes (what `sha256sum` prints)."""
    stat = file.stat()
    return _file_digest(file, stat.st_mtime_ns, stat.st_size)


def code_digest(file: Path) -> str:
    """sha256 of a Python file's code: its syntax tree without docstrings (comments are not in it), so an
    edit of prose plans nothing while any edit of code does."""
    stat = file.stat()
    return _code_digest(file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _code_digest(file: Path, mtime_ns: int, size: int) -> str:
    tree = ast.parse(file.read_bytes(), filename=str(file))  # a tree of its own: the docstrings go
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return sha256_bytes(ast.dump(tree, annotate_fields=False, include_attributes=False).encode())


def display_path(file: Path, root: Path | None = None) -> str:
    """A file's name as provenance shows it: relative to the checkout or the working directory."""
    for base in (root, PACKAGE_ROOT.parent, Path.cwd()):
        if base is None:
            continue
        try:
            return file.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return file.resolve().as_posix()


@dataclass(frozen=True)
class StageSource:
    """The source files of one job and their combined hash (what its rule's `code` param carries)."""

    files: tuple[Path, ...]

    @property
    def digests(self) -> dict[str, str]:
        """Each file's sha256 (of its bytes), by its display path."""
        return {display_path(file): file_digest(file) for file in self.files}

    @property
    def sha256(self) -> str:
        """The stage's code hash: the files' names and code digests (docstrings and comments left out)."""
        digest = hashlib.sha256()
        for name, file in sorted((display_path(file), file) for file in self.files):
            digest.update(f"{name}\0{code_digest(file)}\n".encode())
        return digest.hexdigest()

    def record(self) -> dict:
        """For provenance.json: the code hash, each file's sha256, and the files git does not hold as run."""
        return {"sha256": self.sha256, "files": self.digests, **git_file_states(self.files)}


def git_file_states(files: tuple[Path, ...] | list[Path], root: Path = PACKAGE_ROOT.parent) -> dict[str, list[str]]:
    """{"modified": [...], "untracked": [...]}: the files that differ from the mimflow checkout's last commit,
    and those it does not track (ignored, new, or outside the checkout). Empty lists: all committed as run.
    Outside a git checkout every file counts as untracked."""
    def git(*args: str) -> set[str]:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=True)
        return {line for line in proc.stdout.splitlines() if line}

    inside, outside = [], []
    for file in files:
        try:
            inside.append(file.resolve().relative_to(root.resolve()).as_posix())
        except ValueError:
            outside.append(display_path(file))
    try:
        tracked = git("ls-files", "--", *inside) if inside else set()
        changed = git("diff", "--name-only", "HEAD", "--", *inside) if inside else set()
    except (OSError, subprocess.SubprocessError):
        tracked, changed = set(), set()
    return {"modified": sorted(name for name in inside if name in tracked and name in changed),
            "untracked": sorted([name for name in inside if name not in tracked] + outside)}

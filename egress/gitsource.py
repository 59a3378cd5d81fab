"""Policies read from git: `git:REV:path`, for diffs between versions.

`git:origin/main:policies/chu/policy.yaml` is the policy at that path in revision
`origin/main` of the repository that contains the current directory, as
`git show origin/main:policies/chu/policy.yaml` prints it. As in git, the path is from
the top of the repository; `./` or `../` at its start makes it relative to the current
directory instead (`git:HEAD~1:./policy.yaml`).

`checkout(spec)` copies into a temporary folder the policy file, the files it names in
`include:` that the loader accepts (its own rules: beside the policy) and its lock file (`<stem>.lock.yaml`), all from the same
revision, and yields the path of the copy; the folder is removed afterwards. Nothing
touches the working tree, the index or the refs: only `git rev-parse` and
`git cat-file` run. A revision or path that does not exist is `Unreadable` (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from egress import yamlpos
from egress.load import Unreadable, include_names, include_problem, lock_path
from egress.yamlpos import Map, YamlError

PREFIX = "git:"


@dataclass(frozen=True)
class GitSpec:
    rev: str
    path: str  # as written after the revision

    def __str__(self) -> str:
        return f"{PREFIX}{self.rev}:{self.path}"


def is_git_spec(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_spec(text: str) -> GitSpec:
    """`git:REV:path` -> GitSpec; ValueError with a message for a malformed spec.

    A revision cannot hold `:` (git refuses it in ref names), so the spec splits at the
    first `:` after the prefix."""
    body = text[len(PREFIX):] if is_git_spec(text) else text
    rev, sep, path = body.partition(":")
    if not sep or not rev or not path:
        raise ValueError(f"'{text}' is not git:REV:PATH (e.g. git:origin/main:policies/chu/policy.yaml)")
    if rev.startswith("-"):
        raise ValueError(f"'{text}': a revision cannot start with '-'")
    return GitSpec(rev, path)


def _git(args: list[str], cwd: str, what: str) -> bytes:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as err:
        raise Unreadable(f"{what}: cannot run git: {err.strerror or err}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Unreadable(f"{what}: {message[-1]}" if message else what)
    return result.stdout


def _exists(rev: str, path: str, top: str) -> bool:
    result = subprocess.run(["git", "cat-file", "-e", f"{rev}:{path}"], cwd=top, capture_output=True, check=False)
    return result.returncode == 0


def repository(cwd: str | None = None) -> str:
    """The top folder of the repository that contains `cwd` (default: the current one)."""
    cwd = cwd or os.getcwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd, f"{cwd} is not in a git repository").decode().strip()
    return top


def repo_path(spec: GitSpec, top: str, cwd: str | None = None) -> str:
    """The path of the spec from the top of the repository, in posix form."""
    path = spec.path
    if path.startswith(("./", "../")) or path in (".", ".."):
        here = os.path.relpath(os.path.realpath(cwd or os.getcwd()), os.path.realpath(top))
        path = posixpath.normpath(posixpath.join("" if here == "." else here.replace(os.sep, "/"), path))
        if path.startswith("../"):
            raise Unreadable(f"{spec}: the path leaves the repository")
    return path.lstrip("/")


def _includes(text: bytes, local: str) -> list[str]:
    """The includes of a policy text that the loader would read, by its own rules
    (`load.include_names`, `load.include_problem`): those it refuses are not copied, and
    the loader then says why, with the position. A text that is not YAML has none."""
    try:
        doc, _ = yamlpos.load(text.decode("utf-8"), local)
    except (UnicodeDecodeError, YamlError):
        return []
    if not isinstance(doc, Map):
        return []
    return [name for name, _ in include_names(doc) if isinstance(name, str) and include_problem(local, name) is None]


@contextlib.contextmanager
def checkout(text: str, cwd: str | None = None) -> Iterator[str]:
    """Yield the path of a temporary copy of the policy of `git:REV:path`, its includes
    and its lock file. `Unreadable` if the revision or the file does not exist."""
    try:
        spec = parse_spec(text)
    except ValueError as err:
        raise Unreadable(str(err)) from None
    top = repository(cwd)
    path = repo_path(spec, top, cwd)
    commit = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec.rev}^{{commit}}"], top,
                  f"{spec}: no revision '{spec.rev}' in {top}").decode().strip()
    policy_text = _git(["cat-file", "blob", f"{commit}:{path}"], top, f"{spec}: no file '{path}' at {spec.rev}")
    folder = posixpath.dirname(path)
    tmp = tempfile.mkdtemp(prefix="egress-git-")
    try:
        local = os.path.join(tmp, posixpath.basename(path))
        with open(local, "wb") as handle:
            handle.write(policy_text)
        wanted = _includes(policy_text, local)
        wanted.append(posixpath.basename(lock_path(path)))
        for name in dict.fromkeys(wanted):
            source = posixpath.join(folder, name) if folder else name
            if not _exists(commit, source, top):
                continue  # a missing include: the loader says so, with its position
            with open(os.path.join(tmp, name), "wb") as handle:
                handle.write(_git(["cat-file", "blob", f"{commit}:{source}"], top, f"{spec}: cannot read {source}"))
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

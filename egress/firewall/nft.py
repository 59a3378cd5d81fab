"""The nft program in the current network namespace, and the table `inet egress`.

Questions to the kernel (is there a table, what does it hold, which tables does a file
create) are asked with `nft -j` and answered from the JSON; the text listing is kept for
one job only: it is the snapshot format, because `nft -f` reloads it as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable

from egress.firewall.errors import ApplyError, Refused, Unusable, first_lines

TABLE = ("inet", "egress")
TABLE_NAME = " ".join(TABLE)


def _binary() -> str:
    return os.environ.get("EGRESS_NFT") or "nft"


def _objects(doc: dict) -> list[dict]:
    """The objects of an `nft -j` answer, without its metainfo."""
    return [obj for obj in doc.get("nftables", []) if "metainfo" not in obj]


def _tables(doc: dict) -> set[tuple[str, str]]:
    return {(obj["table"]["family"], obj["table"]["name"]) for obj in _objects(doc) if "table" in obj}


class Nft:
    """The nft program in the current network namespace."""

    def __init__(self, binary: str | None = None):
        self.binary = binary or _binary()

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        try:
            cp = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise Unusable(f"{self.binary}: not found (install nftables)") from None
        except subprocess.TimeoutExpired:
            raise ApplyError(f"{self.binary} {' '.join(args)}: timed out") from None
        if check and cp.returncode:
            raise ApplyError(f"nft {' '.join(args)} failed: {first_lines(cp.stderr or cp.stdout)}")
        return cp

    def json(self, *args: str) -> dict:
        cp = self.run("-j", *args)
        try:
            return json.loads(cp.stdout or "{}")
        except ValueError as err:
            raise ApplyError(f"nft -j {' '.join(args)}: unreadable answer ({err})") from None

    def check(self, path: str | os.PathLike) -> None:
        cp = self.run("-c", "-f", os.fspath(path), check=False)
        if cp.returncode:
            raise Refused(f"{path}: refused by `nft -c`: {first_lines(cp.stderr or cp.stdout)}")

    def load(self, path: str | os.PathLike) -> None:
        self.run("-f", os.fspath(path))

    def has_table(self) -> bool:
        return TABLE in _tables(self.json("list", "tables"))

    def _on_table(self, *args: str) -> subprocess.CompletedProcess | None:
        """Run an nft command on table inet egress; None when there is no such table.
        The table is asked for only when the command fails: nft 1.0 answers `list
        tables` by reading every set element of the namespace (0.7 s at 100,000
        destinations), which most commands here would pay for nothing."""
        cp = self.run(*args, check=False)
        if cp.returncode == 0:
            return cp
        if not self.has_table():
            return None
        raise ApplyError(f"nft {' '.join(args)} failed: {first_lines(cp.stderr or cp.stdout)}")

    def list_table(self, stateless: bool = False) -> str | None:
        """`nft list table inet egress` as text (a reload script), or None when there is no
        such table."""
        cp = self._on_table(*(["-s"] if stateless else []), "list", "table", *TABLE)
        return cp.stdout if cp else None

    def base_chains(self) -> dict[str, str] | None:
        """The base chains of table inet egress in the kernel, name -> policy (nft's
        default, accept, when none is given), or None when there is no such table.
        From `list chains`, which reads no set element."""
        chains = {obj["chain"]["name"]: obj["chain"].get("policy", "accept")
                  for obj in _objects(self.json("list", "chains", TABLE[0]))
                  if obj.get("chain", {}).get("table") == TABLE[1] and "hook" in obj["chain"]}
        if not chains and not self.has_table():
            return None
        return chains

    def delete_table(self) -> None:
        self._on_table("delete", "table", *TABLE)

    def fingerprint(self) -> str | None:
        """sha256 of the table's rules and set declarations as egress loaded them: the
        stateless JSON listing without handles, counters and set elements (dnsmasq adds
        elements at run time), or None when there is no table. Listed terse (`-t`: no
        elements of named sets, those of the rules' anonymous sets are kept), which
        gives the same document without the elements, at half the cost."""
        cp = self._on_table("-j", "-s", "-t", "list", "table", *TABLE)
        if cp is None:
            return None
        try:
            return fingerprint_of(json.loads(cp.stdout or "{}"))
        except ValueError as err:
            raise ApplyError(f"nft -j list table {TABLE_NAME}: unreadable answer ({err})") from None

    def fingerprint_or_none(self) -> str | None:
        """`fingerprint`, or None when the table cannot be listed or read."""
        try:
            return self.fingerprint()
        except ApplyError:
            return None


def fingerprint_of(doc: dict) -> str:
    def canonical(value):
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items() if k not in ("handle", "elem", "counter")}
        if isinstance(value, list):
            return [canonical(v) for v in value if not (isinstance(v, dict) and "counter" in v)]
        return value

    objects = canonical(_objects(doc))
    return hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- text listings (snapshots)

_ELEMENTS_RE = re.compile(r"^[ \t]*elements = \{[^}]*\}[ \t]*\n", re.M)
_SET_RE = re.compile(r"^\tset (\S+) \{\n(.*?)^\t\}", re.M | re.S)
_SET_ELEMENTS_RE = re.compile(r"elements = \{(.*?)\}", re.S)


def strip_elements(listing: str) -> str:
    """A text listing without its set elements (to compare two listings' rules)."""
    return _ELEMENTS_RE.sub("", listing)


def restore_script(listing: str, taken_at: str) -> str:
    """A file that replaces table inet egress by the saved listing in one transaction."""
    return (
        f"# Saved by egress apply at {taken_at}: the table in force before the apply.\n"
        f"# Loading it with `nft -f` replaces table {TABLE_NAME} atomically.\n"
        f"table {TABLE_NAME}\n"
        f"delete table {TABLE_NAME}\n" + listing
    )


def dynamic_sets(listing: str) -> dict[str, tuple[str, str | None]]:
    """Sets fed at run time (declared with a timeout, or `flags dynamic`), from a text
    listing: name -> (type line, elements text or None). Text because the elements are
    carried into a text reload script, in the same transaction."""
    found = {}
    for name, body in _SET_RE.findall(listing):
        declaration = _SET_ELEMENTS_RE.sub("", body)
        flags = re.search(r"^\s*flags (.*)$", declaration, re.M)
        flag_words = {w.strip() for w in flags.group(1).split(",")} if flags else set()
        if flag_words & {"timeout", "dynamic"} or re.search(r"^\s*timeout ", declaration, re.M):
            elements = _SET_ELEMENTS_RE.search(body)
            type_line = re.search(r"^\s*type .*$", declaration, re.M)
            found[name] = (type_line.group(0).strip() if type_line else "", elements.group(1) if elements else None)
    return found


def carry_dynamic_elements(saved_listing: str, live_listing: str, emptied: frozenset[str]) -> str:
    """`add element` lines that put the live elements of dynamic sets into the restored
    table, for the sets that both declare with the same type, except those in `emptied`
    (a set that either ruleset empties on load holds other hosts under each)."""
    saved = dynamic_sets(saved_listing)
    lines = []
    for name, (type_line, elements) in sorted(dynamic_sets(live_listing).items()):
        if name in emptied or name not in saved or saved[name][0] != type_line:
            continue
        if elements and elements.strip():
            lines.append(f"add element {TABLE_NAME} {name} {{{elements}}}\n")
    return "".join(lines)


# --------------------------------------------------------------------------- deny-all (fail closed)

_DROP_CHAIN_RE = re.compile(
    r"chain\s+(?P<name>[\w-]+)\s*\{\s*type\s+filter\s+hook\s+(?P<hook>\w+)\s+priority\s+(?P<prio>[^;]+?)\s*;"
    r"\s*policy\s+drop\s*;")


def deny_all_script(ruleset: str, why: str) -> str:
    """A table inet egress that lets nothing new through: the base chains of `ruleset`
    (those with policy drop, on the same hooks and priorities) holding only what any
    egress stage keeps: established/related connections and the ICMP errors (plus
    neighbour discovery and loopback on the output hook, the firewall's own traffic).

    It stands in for "no table" wherever a rollback would otherwise leave the perimeter
    without filtering. A ruleset without such a chain gets the forward hook."""
    from egress.targets.nftables import ICMP_V4, ICMP_V6, ICMP_V6_LOCAL

    chains = {m["name"]: (m["hook"], m["prio"].strip()) for m in _DROP_CHAIN_RE.finditer(ruleset)}
    lines = [f"# egress: deny-all table ({why}).", "# Loading it with `nft -f` replaces table inet egress atomically.",
             f"table {TABLE_NAME}", f"delete table {TABLE_NAME}", f"table {TABLE_NAME} {{"]
    for name, (hook, prio) in sorted(chains.items()) or [("forward", ("forward", "filter"))]:
        icmp6 = ICMP_V6 + (ICMP_V6_LOCAL if hook == "output" else ())
        lines += [f"\tchain {name} {{",
                  f"\t\ttype filter hook {hook} priority {prio}; policy drop;",
                  "\t\tct state established,related accept",
                  "\t\tct state invalid drop",
                  *(['\t\toifname "lo" accept'] if hook == "output" else []),
                  f"\t\ticmp type {{ {', '.join(ICMP_V4)} }} accept",
                  f"\t\ticmpv6 type {{ {', '.join(icmp6)} }} accept",
                  "\t}"]
    return "\n".join([*lines, "}"]) + "\n"


# --------------------------------------------------------------------------- scope (scratch namespace)

_SENTINEL = "table ip egress_sentinel {}\ntable inet egress_sentinel {}\n"
_SENTINELS = {("ip", "egress_sentinel"), ("inet", "egress_sentinel")}


def check_scope(path: str | os.PathLike, say: Callable[[str], object] | None = None) -> None:
    """Load the file in a scratch network namespace holding two sentinel tables: it
    must load on its own, keep the sentinels, and leave exactly `table inet egress`
    besides them. Skipped (with a note) where no scratch namespace can be made."""
    unshare = shutil.which("unshare")
    if not unshare:
        if say:
            say("note: unshare not found: the file's scope (only table inet egress) is not checked")
        return
    probe = subprocess.run([unshare, "--net", "--", "true"], capture_output=True, text=True)
    if probe.returncode:
        if say:
            say("note: cannot create a scratch network namespace: the file's scope is not checked")
        return
    # table inet egress is deleted before the tables are listed (it says "egress" if it
    # was there): nft 1.0 lists tables by reading every set element, 1 s for a large
    # table, and the deletion takes 0.1 s. The tables left are the same question.
    script = ('printf "%s" "$3" | "$1" -f - && "$1" -f "$2" || exit 1\n'
              'if "$1" delete table inet egress 2>/dev/null; then echo egress; fi\n'
              '"$1" -j list tables')
    cp = subprocess.run(
        [unshare, "--net", "--", "sh", "-c", script, "sh", _binary(), os.fspath(path), _SENTINEL],
        capture_output=True, text=True, timeout=120,
    )
    if cp.returncode:
        raise Refused(f"{path}: does not load on an empty ruleset: {first_lines(cp.stderr or cp.stdout)}")
    created = cp.stdout.startswith("egress\n")
    listing = cp.stdout.removeprefix("egress\n")
    try:
        tables = _tables(json.loads(listing)) | ({TABLE} if created else set())
    except (ValueError, KeyError, TypeError) as err:
        raise ApplyError(f"{path}: cannot read the scratch namespace's tables ({err})") from None
    expected = _SENTINELS | {TABLE}
    if tables != expected:
        why = []
        missing = sorted(_SENTINELS - tables)
        extra = sorted(tables - expected)
        if missing:
            why.append("it removes other tables (" + ", ".join(f"table {f} {n}" for f, n in missing) + ")")
        if extra:
            why.append("it creates other tables (" + ", ".join(f"table {f} {n}" for f, n in extra) + ")")
        if TABLE not in tables:
            why.append("it does not create table inet egress")
        raise Refused(f"{path}: refused: {'; '.join(why)}; an egress ruleset must touch table inet egress only")

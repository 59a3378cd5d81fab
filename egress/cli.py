"""The `egress` command: parses arguments, calls the library, prints. No logic of its own.

Exit codes (contract): 0 success; 1 the policy is invalid (for `query`: the flow is
denied; for `diff --exit-code`: the stages differ); 2 wrong usage or an unreadable file;
3 an internal error (a bug: the message asks to report it). No traceback reaches the
user for bad input.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from contextlib import contextmanager
from typing import NoReturn

import click

from egress import __version__, instants, report
from egress.diagnostics import ERROR, WARNING, has_errors
from egress.targets import TARGETS  # a registry of names: the modules load on render

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


# The library is imported by the commands that use it, not here: `egress --version` and
# `egress --help` (run by pre-commit hooks on every commit) then load click and little
# else (bench/bench_startup.py measures it). These three are used by several commands.


def validate_file(path: str, at: dt.date | dt.datetime):
    from egress.check import validate

    return validate(path, at)


def resolve(policy, stage_id: str, at: dt.date | dt.datetime):
    from egress.flows import resolve as resolve_stage

    return resolve_stage(policy, stage_id, at)


def policy_files(paths: list[str]) -> list[str]:
    from egress.load import policy_files as find

    return find(paths)


class _Instant(click.ParamType):
    """`--at`: a date (00:00 of that day in the policy's timezone) or a date-time with
    offset (`egress.instants.parse`)."""

    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return instants.parse(value)
        except instants.InstantError as err:
            self.fail(str(err), param, ctx)


DATE = _Instant()
AT_HELP = ("When grant expiries are judged: YYYY-MM-DD (00:00 of that day in the policy's timezone) or a "
           "date-time with offset (2023-09-30T18:00:00+02:00). Default: now.")
AT_OPTION = click.option("--at", "at", type=DATE, help=AT_HELP)
"""`--at` of the commands that judge grant expiries (`compile` and `expiring` word theirs)."""


class _Group(click.Group):
    """Turns anything that escapes a command into a one-line message and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            sys.exit(EXIT_INVALID)
        except Exception as err:  # the last line of defence
            load = sys.modules.get("egress.load")  # if it was never imported, it raised nothing
            if (load is not None and isinstance(err, load.Unreadable)) or isinstance(err, instants.InstantError):
                _fail(str(err), EXIT_USAGE)  # an --at the policy's timezone cannot hold
            if isinstance(err, OSError) and err.errno is not None:
                # the machine, not egress: a full disk or a vanished terminal under standard output
                where = err.filename or "its output"
                _fail(f"cannot write {where}: {err.strerror}", EXIT_USAGE)
            click.echo(
                f"egress: internal error: {type(err).__name__}: {err}. This is a bug: please report it "
                "with the command line and the policy (set EGRESS_DEBUG=1 for the traceback).",
                err=True,
            )
            if _debug():
                raise
            sys.exit(EXIT_INTERNAL)


def _debug() -> bool:
    import os

    return os.environ.get("EGRESS_DEBUG") == "1"


def _fail(message: str, code: int) -> NoReturn:
    """`egress: message` on stderr, then exit with `code`."""
    click.echo(f"egress: {message}", err=True)
    sys.exit(code)


def _at(value: dt.date | dt.datetime | None) -> dt.date | dt.datetime:
    """`--at` as given (each policy reads a plain date in its own timezone), or now."""
    return value if value is not None else instants.moment(None, instants.DEFAULT_TIMEZONE)


def open_policy(path: str, at: dt.date | dt.datetime):
    """The checked policy, or exit 1 with its errors on stderr. Warnings go to stderr too.

    `path` may be `git:REV:PATH` (`egress.gitsource`): the policy of that revision, whose
    copy lasts as long as the command; its diagnostics name it as `git:REV:folder/`."""
    local, shown = path, None
    if path.startswith("git:"):  # gitsource is imported only for it (startup time)
        import os

        from egress import gitsource

        if gitsource.is_git_spec(path):
            local = click.get_current_context().with_resource(gitsource.checkout(path))
            where = gitsource.parse_spec(path)
            folder = os.path.dirname(where.path)
            shown = (os.path.dirname(local) + os.sep, f"git:{where.rev}:{folder + '/' if folder else ''}")
    policy, diagnostics = validate_file(local, at)
    for diagnostic in diagnostics:
        if diagnostic.severity == ERROR:
            text = str(diagnostic)
            click.echo(text.replace(*shown, 1) if shown else text, err=True)
    if policy is None or has_errors(diagnostics):
        errors = sum(d.severity == ERROR for d in diagnostics)
        hint = "" if shown else f"; run `egress validate {path}`"
        _fail(f"{path} is invalid ({errors} error{'s' * (errors != 1)}){hint}", EXIT_INVALID)
    return policy


def stage_of(policy, stage_id: str):
    try:
        return policy.stage(stage_id)
    except KeyError:
        known = ", ".join(s.id for s in policy.stages)
        raise click.BadParameter(
            f"no stage '{stage_id}' in {policy.path}; stages: {known} (or first, last)", param_hint="--stage"
        ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="egress")
def main():
    """Control plane for network egress allow-lists.

    Versioned YAML policies (zones, services, cumulative stages of grants) are
    validated, compiled to nftables, Squid and dnsmasq files, compared stage
    against stage, queried flow by flow, and pushed to firewalls.

    \b
    Exit codes: 0 success; 1 invalid policy (query: denied; diff --exit-code:
    differs); 2 wrong usage or unreadable file; 3 internal error.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(list(report.FORMATS)), default="text", show_default=True,
              help="text: one line per diagnostic; json: the contract list; github: PR annotations; sarif: code scanning.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@AT_OPTION
def validate(paths, fmt, strict, at):
    """Validate policy files, or every policy under a folder.

    Prints every diagnostic of every file as `path:line:col: severity CODE message`
    and a summary on stderr. The codes are listed in docs/diagnostics.md.

    \b
    Examples:
      egress validate policies/
      egress validate policies/chu-rennes-2023/policy.yaml --strict --at 2023-07-01
      egress validate policies/ --format github
    """
    from egress.load import Unreadable

    when = _at(at)
    files = policy_files(list(paths))
    if not files:
        raise click.UsageError(f"no policy found in {' '.join(paths)} (a policy is a .yaml file starting with `egress: 1`)")
    diagnostics = []
    unreadable = []
    for path in files:
        try:
            diagnostics += validate_file(path, when)[1]
        except Unreadable as err:
            unreadable.append(str(err))
    click.echo(report.FORMATS[fmt](diagnostics), nl=False)
    errors = sum(d.severity == ERROR for d in diagnostics)
    warnings = sum(d.severity == WARNING for d in diagnostics)
    for message in unreadable:
        click.echo(f"egress: {message}", err=True)
    checked = len(files) - len(unreadable)
    click.echo(
        f"{checked} polic{'ies' if checked != 1 else 'y'} checked: "
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        + (f"; {len(unreadable)} unreadable" if unreadable else ""),
        err=True,
    )
    if unreadable:
        sys.exit(EXIT_USAGE)
    if errors or (strict and warnings):
        sys.exit(EXIT_INVALID)


@main.command()
@click.argument("policy", type=click.Path())
@AT_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def stages(policy, at, fmt):
    """List the stages of a policy with their date, title and grants.

    For each stage: the grants it adds, the grants it revokes, and the grants in force
    there (after revocations and expiries at --at); then the grants in force that
    expire, and until when. `--format json` adds, per stage, the grants in force with
    their expiry, approver and ticket, and the grants left out as expired.
    """
    import json

    from egress.stages import render_text, stage_rows

    when = _at(at)
    rows = stage_rows(open_policy(policy, when), when)
    if fmt == "json":
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        click.echo(render_text(rows), nl=False)


@main.command()
@click.argument("policy", type=click.Path())
@click.option("--stage", "stage_id", help="The stage to compile (to standard output).")
@click.option("--target", type=click.Choice(list(TARGETS)), help="The file to write, with --stage.")
@click.option("--all-stages", is_flag=True, help="Compile every target of every stage into --out.")
@click.option("--out", type=click.Path(file_okay=False), help="With --all-stages: the bundle folder, replaced atomically; only a folder egress wrote "
                   "(or an empty one) is replaced, other bundles inside it are kept.")
@click.option("--at", "at", type=DATE, help=AT_HELP.replace(
    "Default: now.", "Default: 00:00 today in the policy's timezone, so that the files are the same all day "
    "(the ruleset itself closes a grant at its instant)."))
def compile(policy, stage_id, target, all_stages, out, at):  # shadows the builtin: the command's name
    """Compile a stage to nftables, Squid or dnsmasq; or every stage to a bundle.

    \b
    One file of one stage, to standard output:
      egress compile policy.yaml --stage s2-secure-messaging --target nftables
    Every stage, as DIR/<stage>/{egress.nft,squid-egress.conf,dnsmasq-egress.conf,manifest.json}:
      egress compile policy.yaml --all-stages --out build/

    Compile never uses the network: host addresses come from the lock file
    (`egress resolve`). Same policy, lock file and --at give the same bytes.
    """
    import os

    from egress.load import collector_paused

    when = _at(at)
    if all_stages == bool(stage_id):
        raise click.UsageError("give either --stage ID (with --target) or --all-stages (with --out)")
    if stage_id and (not target or out):
        raise click.UsageError("--stage writes one --target to standard output (use --all-stages --out DIR for files)")
    if all_stages and target:
        raise click.UsageError("--all-stages writes every target into --out: leave out --target "
                               "(or give --stage ID --target X for one file)")
    if all_stages and not out:
        raise click.UsageError("--all-stages needs --out DIR and writes every target")
    if os.path.isdir(policy):
        raise click.UsageError(f"compile takes one policy file, and {policy} is a folder; "
                               f"give the file, such as {_suggest_policy(policy)}")
    model = open_policy(policy, when)
    if at is None:  # the start of today: the same bytes all day (the ruleset closes expiring grants itself)
        when = instants.moment(None, model.timezone).date()
    # like the load: the flows and texts built here hold no cycles and live until the
    # files are written, so the collector would rescan the policy for nothing (1 s at 100k)
    with collector_paused():
        if stage_id:
            _compile_one(model, stage_id, target, when)
        else:
            _compile_bundle(model, policy, out, when)


def _compile_one(model, stage_id: str, target: str, when: dt.date | dt.datetime) -> None:
    """`compile --stage ID --target X`: one file to standard output."""
    stage_of(model, stage_id)
    flows = resolve(model, stage_id, when)
    _say_expired([flows])
    with _policy_fault():
        text = TARGETS[target].render(flows)
    click.echo(text, nl=False)


def _compile_bundle(model, policy: str, out: str, when: dt.date | dt.datetime) -> None:
    """`compile --all-stages --out DIR`: every target of every stage, written atomically."""
    import os

    from egress.bundle import BundleError, source_revision, write_bundle
    from egress.diff import counted
    from egress.firewall.sanitize import clean

    def progress(flows, files):
        size = sum(len(data) for data in files.values())
        counts = f"{counted(len(flows.grants), 'grant')}, {counted(len(flows.flows), 'flow')}"
        click.echo(f"  {flows.stage.id}: {counts}, {size:,} bytes", err=True)

    resolved = [resolve(model, stage.id, when) for stage in model.stages]
    _say_expired(resolved)
    first = model.path if policy.startswith("git:") else policy  # a git: policy is read from its copy
    sources = [first] + [p for p in _sources(model) if p != first]
    shown = os.path.join(out, "")  # build and build/ both show as build/
    click.echo(f"compiling {model.name}: {counted(len(resolved), 'stage')} into {shown}", err=True)
    try:
        with _policy_fault():
            written = write_bundle(out, resolved, source_revision(sources), progress, sources)
    except BundleError as err:
        _fail(clean(err), EXIT_USAGE)  # it names what --out holds: any file name
    if written.replaced not in (None, model.name):
        click.echo(f"note: replaced the bundle of policy {written.replaced or '(unnamed, older egress)'}", err=True)
    if written.kept:
        click.echo(f"note: kept the other bundle{'s' * (len(written.kept) != 1)} in {shown}: "
                   f"{', '.join(clean(name) for name in written.kept)}", err=True)
    click.echo(f"wrote {counted(len(resolved), 'stage')} to {shown}", err=True)


@contextmanager
def _policy_fault():
    """Exit 1 with one line when a target finds the policy cannot be written out (more
    destination tags than `firewall.mark_mask` numbers): the policy's fault, not a bug."""
    from egress.targets.nftables import TooManyTags

    try:
        yield
    except TooManyTags as err:
        _fail(str(err), EXIT_INVALID)


def _suggest_policy(folder: str) -> str:
    """A policy file in `folder` to name in a message, or the usual name."""
    import os

    found = policy_files([folder])
    return found[0] if len(found) == 1 else os.path.join(folder, "policy.yaml")


def _refuse_replacing(out: str, inputs: list[str]) -> None:
    """Exit 2 if writing `out` would replace one of the files read (a hurried
    `--out policy.yaml`): the path itself is replaced (a link, not what it points to)."""
    import os

    target = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(out))), os.path.basename(out))
    for path in inputs:
        if path != "-" and os.path.realpath(path) == target:
            click.echo(f"egress: --out {out} is {path}, which the report reads: give another file, such as report.html",
                       err=True)
            sys.exit(EXIT_USAGE)


def _sources(model) -> list[str]:
    """The files the policy was read from (policy, includes, lock file), sorted."""
    return sorted(set(model.sources))


def _say_expired(stage_flows) -> None:
    """One note per expired grant, naming the first stage it is left out of."""
    first: dict = {}
    for flows in stage_flows:
        for grant_id, expiry in flows.expired.items():
            first.setdefault(grant_id, (expiry, flows.stage.id))
    later = " and every later stage" if len(stage_flows) > 1 else ""
    for grant_id, (expiry, stage_id) in sorted(first.items()):
        click.echo(f"note: grant '{grant_id}' expired at {instants.show(expiry, end=True)}; left out of stage {stage_id}"
                   f"{later if stage_id != stage_flows[-1].stage.id else ''}", err=True)


@main.command("resolve")
@click.argument("policy", type=click.Path())
@click.option("--nameserver", metavar="ADDR[:PORT]",
              help="Ask this DNS server (e.g. 127.0.0.1:5353, [2001:db8::53]:53) instead of the system resolver.")
@click.option("--timeout", default=3.0, show_default=True, callback=lambda ctx, param, value: _seconds(value, param),
              help="Seconds to wait for each answer (above 0, at most 300).")
def resolve_command(policy, nameserver, timeout):
    """Resolve the hosts of direct grants and write the lock file beside the policy.

    The lock file (`policy.yaml` -> `policy.lock.yaml`) pins host -> addresses for
    the firewall; review and commit it with the policy. Compile never uses DNS.
    Only real answers count: addresses, NODATA or NXDOMAIN. If any host has no address,
    or its A or AAAA question fails (SERVFAIL, REFUSED, timeout), or an answer is an
    address no lock entry may hold (special space, a zone's), nothing is written and the
    command exits 1 naming the host. Nothing is written either if nothing changed.

    \b
    Examples:
      egress resolve policies/chu-rennes-2023/policy.yaml
      egress resolve policy.yaml --nameserver 127.0.0.1:5353
    """
    from egress import resolve as resolving

    model, diagnostics = validate_file(policy, dt.date.today())
    blocking = [d for d in diagnostics if d.severity == ERROR and d.code not in ("E140", "E142")]
    for diagnostic in blocking:
        click.echo(str(diagnostic), err=True)
    if model is None or blocking:
        _fail(f"fix {policy} before resolving its hosts", EXIT_INVALID)
    try:
        resolver = resolving.make_resolver(nameserver, timeout)
    except ValueError as err:
        raise click.BadParameter(f"{nameserver!r}: {err}", param_hint="--nameserver") from None
    hosts = resolving.hosts_to_pin(model)
    if not hosts:  # validate asks for no lock file then: an empty one would only be noise
        click.echo(f"egress: nothing to pin: no direct grant of {policy} reaches a host by name; no lock file written",
                   err=True)
        return
    click.echo(f"resolving {len(hosts)} host{'s' * (len(hosts) != 1)} with {nameserver or 'the system resolver'}", err=True)
    resolution = resolving.lookup(hosts, resolver, resolving.zone_networks(model))
    for failure in resolution.failures:
        click.echo(f"egress: {failure}", err=True)
    if resolution.failures:
        click.echo(f"egress: lock file left unchanged; fix the resolver or the names and run `egress resolve {policy}` again",
                   err=True)
        sys.exit(EXIT_INVALID)
    try:
        path, written = resolving.update_lock(
            model, resolution, nameserver or "system", dt.datetime.now(dt.UTC)
        )
    except OSError as err:
        _fail(f"cannot write {err.filename or 'the lock file'}: {err.strerror or err}", EXIT_USAGE)
    count = sum(len(a) for a in resolution.addresses.values())
    click.echo(f"{'wrote' if written else 'unchanged:'} {path} ({len(hosts)} hosts, {count} addresses)", err=True)


def _seconds(value: float, param) -> float:
    """A delay that ends: `nan` and `inf` pass click's FloatRange, and a lookup with
    either would wait for ever on a server that does not answer."""
    if not (math.isfinite(value) and 0 < value <= 300):
        raise click.BadParameter(f"{value!r}: give a number of seconds above 0 and at most 300", param=param)
    return value


@main.command("diff")
@click.argument("args", nargs=-1, required=True, metavar="POLICY FROM TO | OLD NEW [--stage ID]")
@click.option("--stage", "stage_id", metavar="ID",
              help="Compare two versions of a policy (OLD NEW) at this stage; `last` (the default for two "
                   "versions) compares each version's own last stage, `first` their first.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text: a summary line, then + opened and - closed flows by grant; markdown: a table for a "
                   "merge-request comment or the crisis cell's minutes; json: the contract object.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything differs (0 when nothing does), like `git diff --exit-code`.")
@click.option("--stage-dates", is_flag=True,
              help="Two stages: judge expiries at each stage's own date instead of --at, so a grant that expired "
                   "between them shows as closed.")
@AT_OPTION
def diff_command(args, stage_id, fmt, exit_code, stage_dates, at):
    """Show what a stage, or a new version of a policy, opens and closes.

    \b
    Two forms, told apart by the number of arguments:
      egress diff POLICY FROM TO            stage TO compared with stage FROM
      egress diff OLD NEW [--stage ID]      version NEW compared with version OLD, at stage ID;
                                            without --stage: NEW's last stage with OLD's last
    FROM, TO and ID also take `first` and `last`, so that a CI job keeps comparing the
    latest stages when a change adds one.

    OLD and NEW are policy files or `git:REV:PATH`: the policy at PATH (from the top of
    the repository that holds the current directory; `./PATH` from the current
    directory) in revision REV, with its includes and lock file from the same revision.
    A stage missing from one version counts as nothing open there.

    The diff is computed on flows, not on text: reordering entries, splitting a CIDR or
    moving a service into an included file is no change; one more address, port or
    zone is. Flows are reported per grant, with the grant's reason, approver, ticket
    and expiry; a flow that only moved between grants is shown as closed by one and
    opened by the other, and the summary gives the net change of reachability.
    Metadata changes (a new expiry, approver...) are listed as changed.

    \b
    Examples:
      egress diff policies/chu-rennes-2023/policy.yaml s3-continuity-sites s4-outbound-mail
      egress diff policy.yaml s0-isolation s6-online-booking --format markdown
      egress diff policy.yaml first last
      egress diff git:origin/main:policies/chu-rennes-2023/policy.yaml \\
                  policies/chu-rennes-2023/policy.yaml --exit-code
    """
    import os

    from egress import diff as diffs

    when = _at(at)
    if stage_id is not None and len(args) != 2:
        raise click.UsageError(f"with --stage, give two versions: OLD NEW (got {len(args)} argument{'s' * (len(args) != 1)})")
    if len(args) not in (2, 3):
        raise click.UsageError("give POLICY FROM TO (two stages of one policy) or OLD NEW [--stage ID] (two versions)")
    if len(args) == 2 and stage_dates:
        raise click.UsageError("--stage-dates is for two stages of one policy (POLICY FROM TO)")
    if len(args) == 2 and not args[1].startswith("git:") and not os.path.exists(args[1]):
        raise click.UsageError(f"'{args[1]}' is no policy file: give POLICY FROM TO (two stages of one policy) "
                               "or OLD NEW [--stage ID] (two versions)")
    if len(args) == 3:
        path, from_id, to_id = args
        model = open_policy(path, when)
        known = [s.id for s in model.stages]
        for hint, value in (("FROM", from_id), ("TO", to_id)):
            try:
                model.stage(value)
            except KeyError:
                raise click.BadParameter(
                    f"no stage '{value}' in {path}; stages: {', '.join(known)} (or first, last)", param_hint=hint
                ) from None
        result = diffs.stage_diff(model, model.stage(from_id).id, model.stage(to_id).id, when, stage_dates)
    else:
        stage_id = stage_id or "last"
        old = open_policy(args[0], when)
        new = open_policy(args[1], when)
        try:
            result = diffs.version_diff(old, new, stage_id, when, args[0], args[1])
        except KeyError:
            stage_of(new, stage_id)  # raises with the list of stages
        _say_compared_stages(args, (old, new), stage_id)
    if fmt == "json":
        import json

        click.echo(json.dumps(result.as_json(), indent=2))
    elif fmt == "markdown":
        click.echo(diffs.render_markdown(result), nl=False)
    else:
        click.echo(diffs.render_text(result, color=sys.stdout.isatty()), nl=False)
    if exit_code and not result.empty:
        sys.exit(1)


def _say_compared_stages(specs, models, stage_id: str) -> None:
    """On stderr: which stage of each version a version diff compared."""
    found = []
    for spec, model in zip(specs, models, strict=True):
        try:
            found.append(model.stage(stage_id).id)
        except KeyError:
            found.append(None)
            click.echo(f"note: {spec} has no stage '{stage_id}': nothing counts as open there", err=True)
    if found[0] and found[1] and found[0] != found[1]:
        click.echo(f"note: comparing stage {found[1]} of {specs[1]} with stage {found[0]} of {specs[0]} ({stage_id})",
                   err=True)


@main.command("query")
@click.argument("policy", type=click.Path())
@click.option("--stage", "stage_id", required=True, metavar="ID", help="The stage at which to judge the flow.")
@click.option("--src", required=True, metavar="ADDR|ZONE",
              help="Source address (IPv4 or IPv6), or a zone name (judged at one of its addresses in no other zone).")
@click.option("--dst", required=True, metavar="HOST_OR_ADDR",
              help="Destination: an address (judged as the firewall does) or a host name (judged as the proxy does).")
@click.option("--port", required=True, metavar="PROTO/N", help="tcp/443, udp/53, icmp or icmpv6.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: {\"decision\", \"grant\", \"via\"} plus reasons, source zone, every allowing grant.")
@AT_OPTION
def query_command(policy, stage_id, src, dst, port, fmt, at):
    """Say whether one flow is allowed at a stage, by which grant, and how.

    The answer is `allow` (exit 0) with the grant and how the flow goes: `direct`
    (the firewall lets it through) or `proxy` (a name that the web proxy lets through
    for the source's zone), and the grant's record: its stage, until when it is open,
    who approved it, its ticket; or `deny` (exit 1) with the nearest reasons: the grant that
    would allow it but was revoked, has expired or comes at a later stage, the ports or
    zones a grant does allow, a source in no zone. Malformed input exits 2.

    A source in no zone counts as `internet`: to a zone address it is judged against the
    ingress grants. A zone whose web grants go through the proxy reaches web names
    `via: proxy` only: a direct connection to a web address is denied (query the name).
    The firewall openings that proxied grants need are answered too: such a zone to the
    proxy's port, the proxy zone to the web.

    \b
    Examples:
      egress query policy.yaml --stage s2-secure-messaging --src 10.10.0.5 --dst 203.0.113.70 --port tcp/25
      egress query policy.yaml --stage s3-continuity-sites --src 10.100.1.2 --dst www.ameli.fr --port tcp/443
      egress query policy.yaml --stage s1-inbound-mail --src 198.51.100.7 --dst 192.0.2.25 --port tcp/25
      egress query policy.yaml --stage s4-outbound-mail --src 10.40.0.9 --dst 203.0.113.20 --port tcp/587 --format json
      egress query policy.yaml --stage last --src workstations --dst www.ameli.fr --port tcp/443
    """
    from egress.query import QueryInputError, query

    when = _at(at)
    model = open_policy(policy, when)
    stage_of(model, stage_id)
    try:
        answer = query(resolve(model, stage_id, when), src, dst, port)
    except QueryInputError as err:
        raise click.BadParameter(str(err), param_hint=err.param) from None
    if fmt == "json":
        import json

        click.echo(json.dumps(answer.as_json(), indent=2))
    else:
        click.echo(answer.text(), nl=False)
    if not answer.allowed:
        sys.exit(EXIT_INVALID)


@main.command("reach")
@click.argument("policy", type=click.Path())
@click.option("--stage", "stage_id", required=True, metavar="ID", help="The stage to read (also first, last).")
@click.option("--from", "from_", metavar="ZONE", help="Everything this zone (or `internet`, or a partner service) reaches.")
@click.option("--to", "to", metavar="ADDR|NAME", help="Everything that reaches this address, host name, zone or service.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@AT_OPTION
def reach_command(policy, stage_id, from_, to, fmt, at):
    """List everything a zone can reach at a stage, or everything that can reach a destination.

    One line per flow: the grant, from -> to, direct or through the proxy, the ports, the
    destinations, and the grant's expiry. The proxy's own openings (a zone to the proxy,
    the proxy to the web) are listed too, marked. Read from the same flows as the
    generated files.

    \b
    Examples:
      egress reach policy.yaml --stage last --from workstations
      egress reach policy.yaml --stage s2-secure-messaging --to 203.0.113.70
      egress reach policy.yaml --stage last --to www.ameli.fr --format json
    """
    import json

    from egress import reach
    from egress.query import QueryInputError

    if (from_ is None) == (to is None):
        raise click.UsageError("give --from ZONE or --to ADDR|NAME")
    when = _at(at)
    model = open_policy(policy, when)
    stage_of(model, stage_id)
    flows = resolve(model, stage_id, when)
    try:
        result = reach.reach_from(flows, from_) if from_ is not None else reach.reach_to(flows, to)
    except KeyError:
        names = ", ".join(sorted(reach.known_names(flows)))
        raise click.BadParameter(f"'{from_}' is no zone, service or internet of the policy ({names})",
                                 param_hint="--from") from None
    except QueryInputError as err:
        raise click.BadParameter(str(err), param_hint="--to") from None
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        click.echo(reach.render_text(result), nl=False)


def _within(ctx, param, value: str) -> dt.timedelta:
    from egress.expiring import parse_within

    try:
        return parse_within(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@main.command("expiring")
@click.argument("policy", type=click.Path())
@click.option("--within", default="14d", show_default=True, callback=_within, metavar="DURATION",
              help="The window after --at: days (14d, or 14), weeks (2w) or hours (36h).")
@click.option("--stage", "stage_id", default=None, metavar="ID", help="The stage whose grants are read. Default: the last.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 1 when a grant expires in the window (for a CI job that reminds).")
@click.option("--at", "at", type=DATE, help="Start of the window: 00:00 of that day in the policy's timezone, or a date-time with offset. Default: now.")
def expiring_command(policy, within, stage_id, fmt, exit_code, at):
    """List the grants in force that expire in the coming days, soonest first.

    For each: when it closes and how soon, the grant, the stage that opened it, its
    reason, requester, approver and ticket, and the flows it holds. Grants already
    expired at --at are listed apart: they are out of the rules already.

    \b
    Examples:
      egress expiring policies/chu-rennes-2023/policy.yaml
      egress expiring policy.yaml --within 30d --at 2023-08-20 --format markdown
      egress expiring policy.yaml --exit-code || echo "renew or let close"
    """
    import json

    from egress import expiring as agenda_module

    when = _at(at)
    model = open_policy(policy, when)
    start = instants.moment(when, model.timezone)
    stage = stage_of(model, stage_id) if stage_id else model.stages[-1]
    result = agenda_module.agenda(resolve(model, stage.id, start), start, within)
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
    elif fmt == "markdown":
        click.echo(agenda_module.render_markdown(result), nl=False)
    else:
        click.echo(agenda_module.render_text(result), nl=False)
    if exit_code and result.items:
        sys.exit(EXIT_INVALID)


@main.command("report")
@click.argument("policy", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.html",
              help="The HTML file to write (replaced whole, never half-written).")
@click.option("--stage", "stage_id", default=None, metavar="ID", help="The stage of the matrix and agenda. Default: the last.")
@click.option("--lang", default="en", show_default=True, metavar="en|fr", help="Language of the labels (policy text is shown as written).")
@click.option("--blocked", "blocked_logs", multiple=True, metavar="LOG",
              help="Add the most frequent blocked flows of these logs, as `egress blocked` reads them (repeatable).")
@click.option("--usage", "usage_logs", multiple=True, metavar="ACCESS_LOG",
              help="Add the grants with no traffic in these proxy access.logs, as `egress usage` reads them (repeatable).")
@AT_OPTION
def report_command(policy, out, stage_id, lang, blocked_logs, usage_logs, at):
    """Write the crisis cell's report: one self-contained HTML file.

    For the chosen stage: what is open (a matrix of services x zones: since which
    stage, direct or through the proxy, which ports, until when), the timeline of the
    stages with the flows each opened and closed and the temporary openings, what
    expires in the next 14 days, and stage by stage what each opened and closed, with
    reason, approver and ticket. With --blocked and --usage, also the most frequent
    blocked flows and the grants that carried no traffic. No script, font or image to
    fetch: it opens on a machine with no network, and prints on A4.

    \b
    Examples:
      egress report policies/chu-rennes-2023/policy.yaml --out report.html
      egress report policy.yaml --out rapport.html --lang fr --stage s4-outbound-mail --at 2023-07-03
      egress report policy.yaml --out report.html --blocked /var/log/ulog/egress.json --usage /var/log/squid/access.log
    """
    from egress import htmlreport
    from egress.observe import render

    if lang not in htmlreport.LANGUAGES:
        raise click.BadParameter(f"'{lang}': known languages are {', '.join(htmlreport.LANGUAGES)}", param_hint="--lang")
    when = _at(at)
    model = open_policy(policy, when)
    start = instants.moment(when, model.timezone)
    stage = stage_of(model, stage_id) if stage_id else model.stages[-1]
    first = model.path if policy.startswith("git:") else policy  # a git: policy is read from its copy
    sources = [first] + [p for p in _sources(model) if p != first]
    _refuse_replacing(out, [*sources, *blocked_logs, *usage_logs])
    denials = _collect(blocked_logs, model, proxy_allowed=False) if blocked_logs else None
    requests = _collect(usage_logs, model, proxy_allowed=True) if usage_logs else None
    report = htmlreport.build(model, stage.id, start, sources, denials, requests)
    for observed in (report.blocked, report.usage):
        for note in render.input_notes(observed.files) if observed else ():
            click.echo(f"note: {note}", err=True)
    try:
        htmlreport.write(out, htmlreport.render(report, lang))
    except OSError as err:
        _fail(f"cannot write {out}: {err.strerror or err}", EXIT_USAGE)
    click.echo(f"wrote {out} ({model.name}, stage {stage.id}, {lang})", err=True)


# --------------------------------------------------------------------------- observe
# blocked / usage: thin wrappers over egress.observe (see its docstring).


def _collect(logs, model, proxy_allowed: bool):
    from egress.observe.inputs import LogError, collect
    from egress.targets.nftables import log_prefix

    try:
        return collect(list(logs), log_prefix(model.name), proxy_allowed)
    except LogError as err:
        _fail(str(err), EXIT_USAGE)


@main.command("blocked")
@click.argument("policy", type=click.Path())
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@click.option("--stage", "stage_id", required=True, metavar="ID", help="The stage to judge the blocked flows against.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the first N flows (shown, and drafted).")
@click.option("--as-stage", "as_stage", metavar="NEW_ID",
              help="Write instead a YAML draft of a new stage with one grant per flow that a grant can open, "
                   "its reason, approver and ticket left for a person to fill in (validate refuses them until then).")
@AT_OPTION
def blocked_command(policy, logs, stage_id, fmt, top, as_stage, at):
    """Aggregate denials into blocked flows, and say what would open each.

    LOG files are read whatever their format, told apart by their first lines: ulogd2
    JSON (the denials sent to the policy's firewall.log_group), kernel log lines
    (`egress <policy> drop: IN=...`: kern.log, journalctl -k, dmesg), Squid's native
    access.log (TCP_DENIED lines), dnsmasq log-queries lines (`reply NAME is ADDR`: they
    put names on the addresses of denials). Plain or gzip, a rotated set, or - for
    standard input. Lines of another policy's prefix, and bad lines, are counted and
    reported, never fatal; a file of another format is an error (exit 2).

    A blocked flow is a source zone (or an address in no zone), a destination and a
    port, with its hits, distinct sources and first and last times; sorted by distinct
    sources, then hits. Each is judged at --stage: allowed there already, reachable
    through the proxy, a grant that opens it to other zones, a service that holds it,
    or nothing in the policy.

    \b
    Examples:
      egress blocked policy.yaml --stage last /var/log/ulog/egress.json /var/log/squid/access.log*
      journalctl -k --since today | egress blocked policy.yaml --stage s3-continuity-sites - dnsmasq.log
      egress blocked policy.yaml --stage last ulogd.json --top 5 --as-stage s7-from-complaints > draft.yaml
    """

    from egress.observe import render
    from egress.observe.blocked import blocked

    when = _at(at)
    model = open_policy(policy, when)
    stage = stage_of(model, stage_id).id
    observations = _collect(logs, model, proxy_allowed=False)
    result = blocked(observations, resolve(model, stage, when))
    for note in render.input_notes(result.files):
        click.echo(f"note: {note}", err=True)
    if as_stage:
        from egress.observe.draft import DraftError, draft

        try:
            text = draft(result, model, as_stage, instants.moment(when, model.timezone).date(), top)
        except DraftError as err:
            raise click.BadParameter(str(err), param_hint="--as-stage") from None
        click.echo(text, nl=False)
        return
    if fmt == "json":
        for piece in render.blocked_json(result, top):
            click.echo(piece, nl=False)
    else:
        click.echo(render.BLOCKED[fmt](result, top), nl=False)


@main.command("usage")
@click.argument("policy", type=click.Path())
@click.argument("access_logs", nargs=-1, metavar="[ACCESS_LOG...]")
@click.option("--stage", "stage_id", required=True, metavar="ID", help="The stage whose grants are counted.")
@click.option("--counters", "counters_path", metavar="FILE|-",
              help="The JSON of `nft -j list table inet egress` (a file, or - for standard input): per-element counters "
                   "summed per direct grant.")
@click.option("--live", is_flag=True, help="Read the counters from the kernel (`nft -j list table inet egress`; root).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@AT_OPTION
def usage_command(policy, access_logs, stage_id, counters_path, live, fmt, at):
    """Say which grants of a stage carried traffic, and which carried none.

    ACCESS_LOG files are Squid access.logs (native format; plain, gzip, or - for
    standard input): each allowed request is attributed to the grants that allow it at
    --stage, as `egress query` judges it. The firewall's per-element counters (--counters
    FILE, or --live on the firewall) give packets and bytes per direct grant since the
    ruleset was loaded. The grants in force with no traffic are the candidates to revoke
    at the next stage; a grant no source observes is listed as not observed, never as
    unused.

    \b
    Examples:
      egress usage policy.yaml --stage last /var/log/squid/access.log* --live
      nft -j list table inet egress > counters.json
      egress usage policy.yaml --stage s3-continuity-sites access.log --counters counters.json --format markdown
    """
    import json

    from egress.observe import render
    from egress.observe.usage import usage

    when = _at(at)
    model = open_policy(policy, when)
    stage = stage_of(model, stage_id).id
    if not access_logs and not counters_path and not live:
        raise click.UsageError("give the proxy's access.log files, the firewall's counters (--counters FILE|-, --live), or both")
    if counters_path and live:
        raise click.UsageError("--counters FILE and --live are two sources of the same counters: give one")
    if counters_path == "-" and "-" in access_logs:
        raise click.UsageError("standard input (-) can be read once: for the counters or for a log")
    flows = resolve(model, stage, when)
    counts = None
    if counters_path or live:
        from egress.observe.counters import firewall_counts, load_listing
        from egress.observe.inputs import LogError

        try:
            listing, source = load_listing(counters_path, live)
        except LogError as err:
            _fail(str(err), EXIT_USAGE)
        counts = firewall_counts(flows, listing, source)
    observations = _collect(access_logs, model, proxy_allowed=True)
    result = usage(observations, flows, counts, proxy_read=bool(access_logs))
    for note in render.input_notes(result.files):
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(render.usage_json(result), indent=2))
    else:
        click.echo(render.USAGE[fmt](result), nl=False)


# --------------------------------------------------------------------------- push to firewalls
# apply / confirm / rollback / status: thin wrappers over the egress.firewall package.

STATE_DIR_OPTION = click.option(
    "--state-dir", envvar="EGRESS_STATE_DIR", default="/var/lib/egress", show_default=True,
    type=click.Path(file_okay=False),
    help="Where egress keeps the pending confirmation, the saved rulesets and audit.jsonl "
         "(env EGRESS_STATE_DIR).")


def _warn(message: str) -> None:
    click.echo(message, err=True)


def _firewall(action, *args, **kwargs):
    """Run a firewall action; its errors become one line and an exit code."""
    from egress.firewall.errors import ApplyError
    from egress.firewall.sanitize import clean

    try:
        return action(*args, **kwargs)
    except ApplyError as err:
        _fail(clean(err), err.code)  # it may quote a bundle: escaped


@main.command("sign")
@click.argument("bundle", type=click.Path())
@click.option("--key", required=True, type=click.Path(dir_okay=False), metavar="KEY",
              help="The approver's SSH key: a private key file, or a public key whose private half is in ssh-agent.")
def sign_command(bundle, key):
    """Sign a compiled stage with an SSH key, for `egress apply --allowed-signers`.

    BUNDLE is one stage folder, DIR/<stage>. `ssh-keygen -Y sign -n egress-bundle`
    signs the sha256 of its manifest.json (which holds the sha256 of every file of the
    stage, so the signature covers them all) together with the signing time, and
    writes manifest.json.sig beside it. Run it on the approver's machine after
    reviewing the stage (`egress diff`); firewalls that list the key in their
    allowed_signers file then accept the stage, refuse it if anything changes
    afterwards, and refuse it once they have applied a stage signed later (a replay),
    unless `egress apply --allow-older`. Signing again replaces the signature.

    It prints what it signs: each file and its sha256 (manifest.json first, in the
    format of sha256sum), then a summary. It refuses a stage folder that is not yours
    alone (a folder or file owned by someone else, writable by group or others, a
    symbolic link among the files, or an ancestor folder others can write without the
    sticky bit: they could have changed the stage before you sign it), and a file
    whose sha256 is not the manifest's.

    \b
    Examples:
      egress sign build/s2-secure-messaging --key ~/.ssh/id_ed25519
      egress sign build/s2-secure-messaging --key ~/.ssh/id_ed25519_sk.pub   # key in ssh-agent

    \b
    Exit codes: 0 signed; 1 refused (a folder or file others can write or own, a file
    that differs from the manifest); 2 no manifest.json, no key, ssh-keygen failed or missing.
    """
    from pathlib import Path

    from egress.firewall.sanitize import clean
    from egress.firewall.signing import SignatureError, sign

    try:
        signed = sign(Path(bundle) / "manifest.json", Path(key))
    except SignatureError as err:
        _fail(clean(err), EXIT_USAGE if err.usage else EXIT_INVALID)
    for name, sha256 in signed.files:  # the format of sha256sum: `sha256sum -c` reads it
        click.echo(clean(f"{sha256}  {name}"))
    click.echo(clean(f"signed policy {signed.policy} stage {signed.stage} ({len(signed.files)} files) with {key} "
                     f"at {signed.signed_at}: {signed.path}"))


@main.command("apply")
@click.argument("bundle", type=click.Path())
@click.option("--confirm-timeout", type=click.FloatRange(min=0, min_open=True), default=120, show_default=True,
              metavar="SECONDS", help="Roll back by itself unless `egress confirm` comes within this delay.")
@click.option("--no-wait", is_flag=True,
              help="Return once loaded; the detached watchdog rolls back at the deadline unless confirmed.")
@click.option("--squid-include", type=click.Path(dir_okay=False),
              help="Also install the bundle's squid-egress.conf at this path (the file that squid.conf includes), "
                   "check it with `squid -k parse` and run `squid -k reconfigure`.")
@click.option("--squid-conf", type=click.Path(dir_okay=False),
              help="Squid's main configuration file, for -k parse and -k reconfigure (default: squid's own).")
@click.option("--dnsmasq-include", type=click.Path(dir_okay=False),
              help="Also install the bundle's dnsmasq-egress.conf at this path (the file that dnsmasq's "
                   "configuration reads with conf-file= or conf-dir=), check it with `dnsmasq --test` and "
                   "restart dnsmasq after the ruleset is loaded.")
@click.option("--dnsmasq-conf", type=click.Path(dir_okay=False),
              help="dnsmasq's main configuration file: tested with `dnsmasq --test` too, and it must read "
                   "the --dnsmasq-include file.")
@click.option("--dnsmasq-restart", default="systemctl restart dnsmasq", show_default=True, metavar="COMMAND",
              help="How dnsmasq is restarted (a SIGHUP does not re-read nftset= lines); run without a shell.")
@click.option("--allowed-signers", type=click.Path(dir_okay=False), metavar="FILE",
              help="Refuse the stage unless manifest.json.sig is a signature of its manifest by a key of this "
                   "OpenSSH allowed_signers file (see `egress sign`).")
@click.option("--signer", metavar="ID",
              help="With --allowed-signers: the identity the signature must be made for (default: whichever "
                   "identity the file gives to the key that signed).")
@click.option("--allow-older", is_flag=True,
              help="With --allowed-signers: apply a stage signed before the newest signed stage applied here "
                   "(refused without it, as a replay); the audit log says so.")
@click.option("--lock-timeout", type=float, default=10, show_default=True, metavar="SECONDS",
              help="How long to wait for another egress command holding the state directory's lock.")
@click.option("--strict", is_flag=True,
              help="Refuse (exit 1) a bundle compiled for an instant more than two days from now, or holding a "
                   "grant already past its expiry (without it: a warning).")
@STATE_DIR_OPTION
def apply_command(bundle, confirm_timeout, no_wait, squid_include, squid_conf, dnsmasq_include, dnsmasq_conf,
                  dnsmasq_restart, allowed_signers, signer, allow_older, lock_timeout, strict, state_dir):
    """Load a compiled stage on this firewall, and roll it back unless confirmed.

    BUNDLE is one stage folder of `egress compile --all-stages --out DIR`, i.e.
    DIR/<stage>. Run as root on the firewall. In order: the signature of manifest.json
    (with --allowed-signers; and its signing time: not before the newest signed stage
    applied here, unless --allow-older) and the sha256 sums it lists are checked; egress.nft must
    name no table but inet egress (read before anything runs it), carry the manifest's
    policy and stage in its header, pass `nft -c` and load alone in a scratch
    namespace; the table in force is saved; a watchdog is started; the Squid include
    and dnsmasq feed, if asked, are installed and tested; the new ruleset is loaded
    atomically (`nft -f`), then Squid reconfigured and dnsmasq restarted.
    Unless `egress confirm` runs before --confirm-timeout, the saved ruleset is put
    back by itself, even if this command is killed or the SSH session drops.

    By default the command waits with a countdown: type `yes` (on a terminal) or run
    `egress confirm` from another session; Ctrl-C rolls back at once. With --no-wait
    it returns at once and the watchdog stays armed.

    \b
    Examples:
      egress apply build/s2-secure-messaging
      egress apply build/s2-secure-messaging --no-wait --confirm-timeout 300
      egress apply build/s3-continuity-sites --squid-include /etc/squid/conf.d/egress/squid-egress.conf
      egress apply build/s3-continuity-sites --dnsmasq-include /etc/dnsmasq.d/egress.conf
      egress apply build/s3-continuity-sites --allowed-signers /etc/egress/allowed_signers
      ip netns exec fw egress apply build/s1-inbound-mail --state-dir /var/lib/egress-fw

    The include paths must be real paths: one that is, or goes through, a symbolic
    link is refused (the file is replaced by rename, which would replace the link).

    \b
    Exit codes: 0 loaded (and confirmed, when waiting); 1 refused (bad or older signature or
    sha256, another table named, nft -c, squid -k parse or dnsmasq --test failure, a
    confirmation already pending) or rolled back; 2 wrong usage, unreadable bundle or
    allowed_signers, an include path through a link, not root, wrong network namespace.
    """
    from egress.firewall.transaction import ApplyOptions, apply

    options = ApplyOptions(confirm_timeout=confirm_timeout, wait=not no_wait, squid_include=squid_include,
                           squid_conf=squid_conf, dnsmasq_include=dnsmasq_include, dnsmasq_conf=dnsmasq_conf,
                           dnsmasq_restart=dnsmasq_restart, allowed_signers=allowed_signers, signer=signer,
                           allow_older=allow_older, lock_timeout=lock_timeout, strict=strict)
    code = _firewall(apply, bundle, state_dir, options, say=click.echo, warn=_warn)
    sys.exit(code)


@main.command("confirm")
@STATE_DIR_OPTION
def confirm_command(state_dir):
    """Keep the ruleset of the pending apply: disarm the automatic rollback.

    Run it from a new connection to the firewall: that the connection works is the
    point of the confirmation. Exit 1 when nothing is pending or the deadline has
    passed (then the previous ruleset is, or has just been, restored).

    \b
    Examples:
      egress confirm
      ssh fw1 sudo egress confirm
    """
    from egress.firewall.transaction import confirm

    sys.exit(_firewall(confirm, state_dir, say=click.echo, warn=_warn))


@main.command("rollback")
@click.option("--allow-no-table", is_flag=True,
              help="Where no table inet egress was in force before the apply, delete the table (no filtering "
                   "by egress at all) instead of loading the deny-all table.")
@click.option("--if-overdue", is_flag=True,
              help="Only roll back a pending apply whose deadline has passed (what the deadline timer runs); "
                   "exit 0 when there is none.")
@STATE_DIR_OPTION
def rollback_command(allow_no_table, if_overdue, state_dir):
    """Restore the ruleset that was in force before the last apply.

    During a pending apply: rolls back now. After a confirmation: puts back what the
    last apply replaced (table inet egress as it was then; the Squid include and the
    dnsmasq feed too if the apply installed them, dnsmasq restarted), once. Exit 1 when there is nothing to roll back.

    Fail closed: where there was no table inet egress before the apply, the rollback
    loads a deny-all table (the same hooks, policy drop, only established/related
    connections and ICMP errors pass) instead of leaving no filtering at all; give
    --allow-no-table to delete the table instead.

    \b
    Examples:
      egress rollback
      egress status && egress rollback
      egress rollback --allow-no-table     # back to no table inet egress at all
    """
    from egress.firewall.transaction import rollback

    sys.exit(_firewall(rollback, state_dir, say=click.echo, warn=_warn, allow_no_table=allow_no_table,
                       if_overdue=if_overdue))


@main.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@STATE_DIR_OPTION
def status_command(fmt, state_dir):
    """Say what is loaded on this firewall and whether a confirmation is pending.

    Shows the policy, stage and sha256 of egress.nft from the manifest of the bundle in
    force, whether table inet egress still matches what egress loaded, the deadline
    and watchdog of a pending apply, and what a rollback would restore.

    \b
    Examples:
      egress status
      egress status --format json | jq .pending
    """
    import json

    from egress.firewall.render import format_status
    from egress.firewall.status import status

    doc = _firewall(status, state_dir)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        click.echo(format_status(doc), nl=False)


@main.command("proxy-timer", hidden=True)
@click.option("--state-dir", required=True)
def proxy_timer_command(state_dir):
    """Internal: swaps the proxy include at each expiry instant (egress/firewall/proxytimer.py)."""
    from egress.firewall import proxytimer

    sys.exit(proxytimer.run(state_dir))


@main.command("watchdog", hidden=True)
@click.option("--state-dir", required=True)
@click.option("--token-fd", type=int, required=True, help="A pipe holding the pending apply's token.")
@click.option("--ready-fd", type=int)
def watchdog_command(state_dir, token_fd, ready_fd):
    """Internal: the rollback watchdog that `egress apply` starts (egress/firewall/watchdog.py)."""
    from egress.firewall import watchdog

    sys.exit(watchdog.run(state_dir, watchdog.read_token(token_fd), ready_fd))


if __name__ == "__main__":  # pragma: no cover
    main()

"""The `egress` command: parses arguments, calls the library, prints. No logic of its own.

Exit codes (contract): 0 success; 1 the policy is invalid (for `query`: the flow is
denied; for `diff --exit-code`: the stages differ); 2 wrong usage or an unreadable file;
3 an internal error (a bug: the message asks to report it). No traceback reaches the
user for bad input.
"""

from __future__ import annotations

import datetime as dt
import sys

import click

from egress import __version__, report
from egress.check import validate as validate_file
from egress.diagnostics import ERROR, WARNING, has_errors
from egress.flows import resolve
from egress.load import Unreadable, policy_files

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

DATE = click.DateTime(formats=["%Y-%m-%d"])
AT_HELP = "Date at which grant expiries are judged (YYYY-MM-DD). Default: today."


class _Group(click.Group):
    """Turns anything that escapes a command into a one-line message and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Unreadable as err:
            click.echo(f"egress: {err}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            sys.exit(EXIT_INVALID)
        except Exception as err:  # noqa: BLE001 - the last line of defence
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


def _at(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def open_policy(path: str, at: dt.date):
    """The checked policy, or exit 1 with its errors on stderr. Warnings go to stderr too."""
    policy, diagnostics = validate_file(path, at)
    for diagnostic in diagnostics:
        if diagnostic.severity == ERROR:
            click.echo(str(diagnostic), err=True)
    if policy is None or has_errors(diagnostics):
        errors = sum(d.severity == ERROR for d in diagnostics)
        click.echo(f"egress: {path} is invalid ({errors} error{'s' * (errors != 1)}); run `egress validate {path}`", err=True)
        sys.exit(EXIT_INVALID)
    return policy


def stage_of(policy, stage_id: str):
    try:
        return policy.stage(stage_id)
    except KeyError:
        known = ", ".join(s.id for s in policy.stages)
        raise click.BadParameter(f"no stage '{stage_id}' in {policy.path}; stages: {known}", param_hint="--stage") from None


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
@click.option("--at", "at", type=DATE, help=AT_HELP)
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
@click.option("--at", "at", type=DATE, help=AT_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def stages(policy, at, fmt):
    """List the stages of a policy with their date, title and grants.

    For each stage: the grants it adds, the grants it revokes, and the grants in force
    there (after revocations and expiries at --at).
    """
    import json

    from egress.flows import grants_in_force

    when = _at(at)
    model = open_policy(policy, when)
    rows = []
    for stage in model.stages:
        in_force, _, expired = grants_in_force(model, stage.id, when)
        rows.append({
            "id": stage.id,
            "date": stage.date.isoformat() if stage.date else None,
            "title": stage.title,
            "added": len(stage.grants),
            "revoked": len(stage.revoke),
            "expired": len(expired),
            "in_force": len(in_force),
        })
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["id"]) for r in rows) if rows else 5
    click.echo(f"{'#':>2}  {'stage':<{width}}  {'date':<10}  {'+':>3} {'-':>3} {'exp':>3} {'force':>5}  title")
    for index, row in enumerate(rows):
        click.echo(
            f"{index:>2}  {row['id']:<{width}}  {row['date'] or '-':<10}  {row['added']:>3} {row['revoked']:>3} "
            f"{row['expired']:>3} {row['in_force']:>5}  {row['title'] or ''}"
        )


@main.command()
@click.argument("policy", type=click.Path())
@click.option("--stage", "stage_id", help="The stage to compile (to standard output).")
@click.option("--target", type=click.Choice(["nftables", "squid", "dnsmasq"]), help="The file to write, with --stage.")
@click.option("--all-stages", is_flag=True, help="Compile every target of every stage into --out.")
@click.option("--out", type=click.Path(file_okay=False), help="With --all-stages: the bundle folder, replaced atomically.")
@click.option("--at", "at", type=DATE, help=AT_HELP)
def compile(policy, stage_id, target, all_stages, out, at):  # noqa: A001 - the command's name
    """Compile a stage to nftables, Squid or dnsmasq; or every stage to a bundle.

    \b
    One file of one stage, to standard output:
      egress compile policy.yaml --stage s2-secure-messaging --target nftables
    Every stage, as DIR/<stage>/{egress.nft,squid-egress.conf,dnsmasq-egress.conf,manifest.json}:
      egress compile policy.yaml --all-stages --out build/

    Compile never uses the network: host addresses come from the lock file
    (`egress resolve`). Same policy, lock file and --at give the same bytes.
    """
    from egress.bundle import source_revision, write_bundle
    from egress.targets import TARGETS

    when = _at(at)
    if all_stages == bool(stage_id):
        raise click.UsageError("give either --stage ID (with --target) or --all-stages (with --out)")
    if stage_id and (not target or out):
        raise click.UsageError("--stage writes one --target to standard output (use --all-stages --out DIR for files)")
    if all_stages and (not out or target):
        raise click.UsageError("--all-stages needs --out DIR and writes every target")
    model = open_policy(policy, when)
    if stage_id:
        stage_of(model, stage_id)
        flows = resolve(model, stage_id, when)
        _say_expired(flows)
        click.echo(TARGETS[target].render(flows), nl=False)
        return

    def progress(flows, files):
        size = sum(len(data) for data in files.values())
        click.echo(f"  {flows.stage.id}: {len(flows.grants)} grants, {len(flows.flows)} flows, {size:,} bytes", err=True)

    resolved = [resolve(model, stage.id, when) for stage in model.stages]
    for flows in resolved:
        _say_expired(flows)
    sources = [policy] + [p for p in _sources(model) if p != policy]
    click.echo(f"compiling {model.name}: {len(resolved)} stages into {out}/", err=True)
    write_bundle(out, resolved, source_revision(sources), progress)
    click.echo(f"wrote {len(resolved)} stages to {out}/", err=True)


def _sources(model) -> list[str]:
    paths = {p.path for p in _positions(model)}
    if model.lock:
        paths.add(model.lock.path)
    return sorted(paths)


def _positions(model):
    yield model.pos
    yield from (z.pos for z in model.zones.values())
    yield from (s.pos for s in model.services.values())
    yield from (s.pos for s in model.stages)


def _say_expired(flows) -> None:
    for grant_id, expiry in sorted(flows.expired.items()):
        click.echo(f"note: stage {flows.stage.id}: grant '{grant_id}' expired on {expiry}; left out", err=True)


@main.command("resolve")
@click.argument("policy", type=click.Path())
@click.option("--nameserver", metavar="ADDR[:PORT]",
              help="Ask this DNS server (e.g. 127.0.0.1:5353, [2001:db8::53]:53) instead of the system resolver.")
@click.option("--timeout", default=3.0, show_default=True, help="Seconds to wait for each answer.")
def resolve_command(policy, nameserver, timeout):
    """Resolve the hosts of direct grants and write the lock file beside the policy.

    The lock file (`policy.yaml` -> `policy.lock.yaml`) pins host -> addresses for
    the firewall; review and commit it with the policy. Compile never uses DNS.
    Nothing is written if any host fails to resolve, or if nothing changed.

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
        click.echo(f"egress: fix {policy} before resolving its hosts", err=True)
        sys.exit(EXIT_INVALID)
    try:
        resolver = resolving.make_resolver(nameserver, timeout)
    except ValueError as err:
        raise click.BadParameter(f"{nameserver!r}: {err}", param_hint="--nameserver") from None
    hosts = resolving.hosts_to_pin(model)
    click.echo(f"resolving {len(hosts)} host{'s' * (len(hosts) != 1)} with {nameserver or 'the system resolver'}", err=True)
    resolution = resolving.lookup(hosts, resolver)
    for host, why in sorted(resolution.failures.items()):
        click.echo(f"egress: {host}: no address ({why})", err=True)
    if resolution.failures:
        click.echo("egress: lock file left unchanged", err=True)
        sys.exit(EXIT_INVALID)
    path, written = resolving.update_lock(
        model, resolution, nameserver or "system", dt.datetime.now(dt.timezone.utc)
    )
    count = sum(len(a) for a in resolution.addresses.values())
    click.echo(f"{'wrote' if written else 'unchanged:'} {path} ({len(hosts)} hosts, {count} addresses)", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

"""`hydra settings`: the reference of every service's options, printed from their declarations (type, default,
constraint, doc), the way a good role documents every variable; nothing here is written twice."""

from __future__ import annotations

import importlib

import click

from hydra_ops.settings import Options, reference

#: Service name -> "module:OptionsClass". A service appears here once its options are declared.
SERVICES = {
    "platform": "hydra_ops.platform:PlatformOptions",
    "ollama": "hydra_ops.services.ollama.options:OllamaOptions",
    "lb": "hydra_ops.services.lb.options:LbOptions",
    "secrets": "hydra_ops.services.secrets.options:SecretsOptions",
    "tabbyapi": "hydra_ops.services.tabbyapi.options:TabbyOptions",
    "models": "hydra_ops.services.models.options:ModelsOptions",
    "stack": "hydra_ops.services.stack.options:StackOptions",
    "redis": "hydra_ops.services.redis.options:RedisOptions",
    "litellm": "hydra_ops.services.litellm.options:LitellmOptions",
    "agents": "hydra_ops.services.agents.options:AgentsOptions",
    "monitoring": "hydra_ops.services.monitoring.options:MonitoringOptions",
    "sollol": "hydra_ops.services.sollol.options:SollolOptions",
    "spark": "hydra_ops.services.spark.options:SparkOptions",
}


def options_class(service: str) -> type[Options]:
    module, _, name = SERVICES[service].partition(":")
    return getattr(importlib.import_module(module), name)


def markdown(services: list[str]) -> str:
    """A Markdown table per service: option, type (and constraint), default, doc."""
    out = []
    for service in services:
        model = options_class(service)
        out += [f"### {service}", "", (model.__doc__ or "").strip().splitlines()[0], "",
                "| option | type | default | doc |", "|---|---|---|---|"]
        out += [f"| `{n}` | {t} | `{d}` | {doc} |".replace("\n", " ") for n, t, d, doc in reference(model)]
        out.append("")
    return "\n".join(out)


PAGE_HEAD = """# Reference: every option

Generated from the option declarations by `hydra settings --page > docs/reference.md` (do not edit by hand;
tests/unit/test_settings.py fails when this file differs from what the declarations print). Set an option in the
group data of the hosts it applies to (`group_data/<group>.py`); only values that differ from the default belong
there.
"""


def page() -> str:
    """docs/reference.md: a heading and note, then every service's table."""
    return f"{PAGE_HEAD}\n{markdown(list(SERVICES))}"


@click.command("settings")
@click.argument("services", nargs=-1)
@click.option("--page", "whole_page", is_flag=True, help="The whole reference page (docs/reference.md).")
def settings(services: tuple[str, ...], whole_page: bool) -> None:
    """Print the options of SERVICES (all when none is named): type, default, constraint and doc."""
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise click.UsageError(f"unknown service {', '.join(unknown)}: one of {', '.join(SERVICES)}")
    if whole_page and services:
        raise click.UsageError("--page prints every service: name none")
    click.echo(page() if whole_page else markdown(list(services) or list(SERVICES)))

"""hydra-storage's services, validated together: the compose stack, Redis (G4), LiteLLM (G5) and the agents
(G7/G8). Each loads its own options; the relations between them (owned by the service they concern) are checked
too, and one error lists every problem, naming keys, before anything is changed."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, NamedTuple

from hydra_ops.services.agents.options import AgentsOptions
from hydra_ops.services.litellm import options as litellm
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.redis import options as redis
from hydra_ops.services.secrets.options import options as secrets_options
from hydra_ops.services.stack import exposure
from hydra_ops.services.stack.options import StackOptions
from hydra_ops.settings import Options, load
from hydra_ops.validation import ValidationError


class Storage(NamedTuple):
    """A storage host's validated options, plus where its secret files live (owned by the secrets service)."""

    stack: StackOptions
    redis: redis.RedisOptions
    litellm: litellm.LitellmOptions
    agents: AgentsOptions
    secret_dir: str
    publish_address: str = ""
    monitoring: MonitoringOptions = MonitoringOptions()


def storage(data: Mapping[str, Any], host: str = "hydra-storage") -> Storage:
    """Validate a storage host's group data; raise one error listing every problem (keys named)."""
    problems: list[str] = []

    def loaded(model: type[Options]) -> Any:
        try:
            return load(model, data, host)
        except ValidationError as exc:
            problems.extend(exc.problems)
            return None

    stack, rd, llm, agents, mon = (loaded(m) for m in (StackOptions, redis.RedisOptions, litellm.LitellmOptions,
                                                        AgentsOptions, MonitoringOptions))
    secret_dir, secret_names = _secrets(data, host, problems)
    if stack is not None and rd is not None:
        problems += redis.relations(rd, stack)
    if stack is not None and llm is not None and secret_names is not None:
        problems += litellm.relations(llm, stack, secret_names)
    if stack is not None:
        problems += exposure.problems(stack, llm, host)
    address = _publish_address(stack, data, problems) if stack is not None else ""
    if problems:
        raise ValidationError(host, problems)
    return Storage(stack, rd, llm, agents, secret_dir, address, mon)


def _publish_address(stack: StackOptions, data: Mapping[str, Any], problems: list[str]) -> str:
    """stack_publish_address, else the inventory address when it is an IP (ports never go on every interface)."""
    address = stack.stack_publish_address or str(data.get("ssh_hostname") or "")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        problems.append(f"stack_publish_address: not set, and the inventory address {address or '(none)'!r} is not "
                        "an IP; set it to the host's LAN address")
        return ""
    return address


def _secrets(data: Mapping[str, Any], host: str, problems: list[str]) -> tuple[str, list[str] | None]:
    """secret_dir and the secrets this host gets as files (the secrets service validates them)."""
    try:
        cfg = secrets_options(data, host)
    except ValidationError as exc:
        problems.extend(exc.problems)
        return "", None
    return cfg.secret_dir, cfg.needed

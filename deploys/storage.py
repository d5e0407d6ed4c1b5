"""hydra-storage: G3 secret files, the docker compose stack with G4 Redis, G5 LiteLLM, G7 CrewAI, G8 LangGraph.

Run from the project root: `pyinfra inventory.py deploys/storage.py`.
"""

from pyinfra import host

from facts.resources import HostResources
from hydra_ops.gaps.g03_secrets import host_secrets, secret_files
from hydra_ops.gaps.g04_redis import redis_tier
from hydra_ops.gaps.g05_litellm import litellm_gateway, secret_env
from hydra_ops.gaps.g07_crewai import crewai
from hydra_ops.gaps.g08_langgraph import langgraph
from hydra_ops.stack import check_host, check_secret_values, validate_storage
from hydra_ops.storage_stack import stack
from hydra_ops.validation import validate_secrets

if "storage" in host.groups:
    data = host.data.dict()
    validate_secrets(data, host.name)  # every data check before any change
    cfg = validate_storage(data, host.name)
    check_host(cfg, host.get_fact(HostResources), host.name)
    services = cfg.stack_services
    redis_password = host_secrets(["redis_password"])["redis_password"] if "redis" in services else ""
    if redis_password:
        check_secret_values({"redis_password": redis_password}, host.name)
    secrets = secret_files()
    mounts = {}
    if "redis" in services:
        mounts["redis"] = redis_tier(cfg, redis_password)
    if "litellm" in services:
        mounts["litellm"] = litellm_gateway(cfg) + [secrets[s] for s in secret_env(cfg).values() if secrets.get(s)]
    for name, bundle in (("crewai", crewai), ("langgraph", langgraph)):
        if name in services:
            mounts[name] = bundle(cfg)
    stack(cfg, mounts)

"""Wire shapes and messages of Uptime Kuma 1.23 that the double reproduces: monitor JSON, password rule, texts.

Kept apart from the handlers so the facts carried over from the real server (field defaults, message wording,
the "Too weak" password rule of check-password-strength) sit in one place.
"""

from __future__ import annotations

import re
from typing import Any

VERSION = "1.23.16"
MAX_INTERVAL_SECOND = 2073600  # 24 days, as the real server
LOGIN_LIMIT_PER_MINUTE = 20  # the real loginRateLimiter's budget
NOT_LOGGED_IN = "You are not logged in."
WEAK = ("Password is too weak. It should contain alphabetic and numeric characters. "
        "It must be at least 6 characters in length.")
INITIALIZED = "Uptime Kuma has been initialized. If you want to run setup again, please delete the database."

# The defaults the real server's Monitor.toJSON() reports for a column the client did not set (Uptime Kuma 1.23).
MONITOR_DEFAULTS: dict[str, Any] = {
    "description": None, "parent": None, "url": None, "method": "GET", "hostname": None, "port": None,
    "maxretries": 0, "weight": 2000, "active": True, "type": "http", "timeout": 48, "interval": 60,
    "retryInterval": 60, "resendInterval": 0, "keyword": None, "invertKeyword": False, "expiryNotification": False,
    "ignoreTls": False, "upsideDown": False, "packetSize": 56, "maxredirects": 10, "accepted_statuscodes": ["200-299"],
    "dns_resolve_type": "A", "dns_resolve_server": "1.1.1.1", "dns_last_result": None, "docker_container": None,
    "docker_host": None, "proxyId": None, "notificationIDList": {}, "mqttUsername": None, "mqttPassword": None,
    "mqttTopic": None, "mqttSuccessMessage": None, "databaseConnectionString": None, "databaseQuery": None,
    "authMethod": None, "authDomain": None, "authWorkstation": None, "grpcUrl": None, "grpcProtobuf": None,
    "grpcMethod": None, "grpcServiceName": None, "grpcEnableTls": False, "grpcBody": None, "grpcMetadata": None,
    "radiusUsername": None, "radiusPassword": None, "radiusCalledStationId": None, "radiusCallingStationId": None,
    "radiusSecret": None, "game": None, "gamedigGivenPortOnly": True, "httpBodyEncoding": "json", "jsonPath": None,
    "expectedValue": None, "kafkaProducerTopic": None, "kafkaProducerBrokers": None, "kafkaProducerSsl": False,
    "kafkaProducerAllowAutoTopicCreation": False, "kafkaProducerMessage": None, "kafkaProducerSaslOptions": None,
    "headers": None, "body": None, "basic_auth_user": None, "basic_auth_pass": None, "pushToken": None,
    "oauth_client_id": None, "oauth_client_secret": None, "oauth_token_url": None, "oauth_scopes": None,
    "oauth_auth_method": None, "tlsCa": None, "tlsCert": None, "tlsKey": None,
}


def too_weak(password: Any) -> bool:
    """check-password-strength's "Too weak": shorter than 6 or fewer than 2 of lower/upper/digit/symbol."""
    if not isinstance(password, str):
        return True
    classes = [r"[a-z]", r"[A-Z]", r"[0-9]", r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"]
    return len(password) < 6 or sum(bool(re.search(c, password)) for c in classes) < 2


def monitor_json(mon: dict[str, Any]) -> dict[str, Any]:
    """A stored monitor as the real Monitor.toJSON() reports it (every column, derived fields added)."""
    data = {**MONITOR_DEFAULTS, **{k: v for k, v in mon.items() if k != "user_id"}}
    ids = data.get("notificationIDList") or {}
    data["notificationIDList"] = {str(i): True for i in ids} if isinstance(ids, list) else ids
    data.update(tags=[], pathName=data.get("name"), childrenIDs=[], maintenance=False, forceInactive=False,
                includeSensitiveData=True, active=bool(mon.get("active", True)))
    return data

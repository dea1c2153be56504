"""``GET /metrics`` (Prometheus text format, mixun/metrics.py) with who may read it, and the health
probes it reports."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from mixun import metrics
from mixun.api.deps import client_ip
from mixun.config import Settings, _networks
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.files.antivirus import ClamdScanner
from mixun.services.runtime import Runtime

log = logging.getLogger("mixun.app")


def metrics_access(settings: Settings, peer: str, authorization: str) -> str | None:
    """Who may read ``/metrics`` (INTERFACE.md): with MIXUN_METRICS_TOKEN set, only a request bearing it
    (else 401 ``not_authenticated``); with MIXUN_METRICS_NETWORKS set, only from those networks (else 403
    ``forbidden``); with neither, only from this machine (loopback). None when allowed, else the code."""
    token = settings.extra.get("MIXUN_METRICS_TOKEN", "")
    networks = settings.extra.get("MIXUN_METRICS_NETWORKS", "")
    if token:
        given = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return "not_authenticated"
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return "forbidden"
    if networks:
        try:
            allowed = _networks(networks)
        except ValueError:  # a malformed MIXUN_METRICS_NETWORKS lets nobody in, and says why
            log.error("MIXUN_METRICS_NETWORKS is not a list of CIDRs: /metrics refused")
            return "forbidden"
        return None if any(addr in net for net in allowed) else "forbidden"
    return None if token or addr.is_loopback else "forbidden"


def mount_metrics(app: FastAPI, bus: Any) -> None:
    """``GET /metrics``: Prometheus text format (mixun.metrics), from the addresses or with the token
    metrics_access allows; outside the login sessions and the web client's routes."""
    rt: Runtime = app.state.runtime

    async def scrape(request: Request) -> Any:
        peer = client_ip(rt, request.client.host if request.client else "", request.headers.get("x-forwarded-for"))
        refused = metrics_access(rt.settings, peer, request.headers.get("authorization", ""))
        if refused:
            raise MixunError(refused)
        bus_up = 1.0 if await bus.healthy() else 0.0
        body, ctype = await asyncio.to_thread(metrics.render, _health_probes(rt, bus_up))
        return Response(body, media_type=ctype, headers={"Cache-Control": "no-store"})

    scrape.permission = Perm.PUBLIC  # type: ignore[attr-defined]  # checked above: token or address
    app.add_api_route("/metrics", scrape, include_in_schema=False, methods=["GET"])


def _health_probes(rt: Runtime, bus_up: float) -> dict[str, tuple[str, Any]]:
    def database() -> float:
        return float(rt.db.answers())

    def scanner() -> float:
        return float(ClamdScanner(rt.settings.clamd_socket, timeout=2).available())

    probes: dict[str, Any] = {"database": database, "bus": lambda: bus_up, "scanner": scanner}
    probes.update(rt.health_probes)
    return {f"mixun_{name}_up" if name in ("database", "bus", "scanner") else f"mixun_{name}":
            (metrics.HEALTH_GAUGES.get(f"mixun_{name}_up", metrics.HEALTH_GAUGES.get(f"mixun_{name}", name)), fn)
            for name, fn in probes.items()}

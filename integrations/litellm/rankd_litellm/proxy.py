"""rankd on the LiteLLM proxy, configured from the proxy's own config.yaml:

    litellm_settings:
      callbacks: ["rankd_litellm.proxy.rankd"]
    environment_variables:          # or the proxy's environment (tokens belong there)
      RANKD_URL: "http://127.0.0.1:8080"

and each deployment's `model_info` naming its rankd endpoint (`rankd_provider`, `rankd_model` or
`rankd_endpoint_id`), as for the SDK Router. The proxy resolves the dotted path to the `rankd`
instance below and adds it to its callbacks. Before the proxy routes a request it runs the
callbacks' pre-call hooks; this one puts rankd's routing strategy on the proxy's router (again
whenever the proxy builds a new router, as it does when models change), so that request and
every later one are routed by rankd's traffic shares. As a callback it also posts every request's
metadata to rankd when `RANKD_INGEST_TOKEN` is set.

Settings, from the environment:
- `RANKD_URL` (default http://127.0.0.1:8080)
- `RANKD_INGEST_TOKEN`: turns telemetry on
- `RANKD_READ_TOKEN`: rankd's `tokens.read`, when it has one
- `RANKD_CACHE_SECONDS` (5), `RANKD_TIMEOUT_SECONDS` (0.5): as for `attach`

rankd unreachable, slow or answering errors: the proxy routes in its own order (simple shuffle).
"""

import logging
import os

from .routing import RankdRouting
from .telemetry import RankdTelemetry

logger = logging.getLogger("rankd_litellm")


def _number(environ, name, default):
    value = environ.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        logger.warning("%s=%r is not a number; using %s", name, value, default)
        return default


class RankdProxy(RankdTelemetry):
    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        self.rankd_url = environ.get("RANKD_URL") or "http://127.0.0.1:8080"
        ingest_token = environ.get("RANKD_INGEST_TOKEN") or None
        super().__init__(self.rankd_url, ingest_token or "")
        self.telemetry_on = ingest_token is not None
        self.read_token = environ.get("RANKD_READ_TOKEN") or None
        self.cache_seconds = _number(environ, "RANKD_CACHE_SECONDS", 5.0)
        self.timeout_seconds = _number(environ, "RANKD_TIMEOUT_SECONDS", 0.5)
        self.routing = None
        self._router = None
        self.attached = 0

    def attach_to(self, router):
        """Routes `router` by rankd's shares, unless it already is."""
        if router is None or router is self._router:
            return
        routing = RankdRouting(
            router, self.rankd_url, cache_seconds=self.cache_seconds, timeout_seconds=self.timeout_seconds,
            read_token=self.read_token,
        )
        register = getattr(router, "register_plugin", None) or router.set_custom_routing_strategy
        register(routing)
        self.routing = routing
        self.deployment_endpoint = routing.deployment_endpoint
        self._router = router
        self.attached += 1
        logger.info("rankd routing attached to the proxy's router (%s)", self.rankd_url)

    # Defined on this class itself: the proxy only calls pre-call hooks a callback's own class defines.
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        try:
            from litellm.proxy import proxy_server

            self.attach_to(getattr(proxy_server, "llm_router", None))
        except Exception as error:  # never fail a request for rankd's sake
            logger.warning("rankd routing not attached: %s", error)
        return data

    def _enqueue(self, record):
        if self.telemetry_on:
            super()._enqueue(record)


# The instance `litellm_settings.callbacks` names.
rankd = RankdProxy()

"""rankd for LiteLLM: route each request by rankd's traffic shares (the best provider gets most,
every healthy one a floor, demoted ones none), and tell rankd how each request went.

    from litellm import Router
    from rankd_litellm import attach

    router = Router(model_list=[...])   # each deployment's model_info names its rankd provider
    attach(router, "http://127.0.0.1:8080", ingest_token=os.environ["RANKD_INGEST_TOKEN"])

On the LiteLLM proxy, name `rankd_litellm.proxy.rankd` in `litellm_settings.callbacks` of its
config.yaml (rankd_litellm/proxy.py).
"""

from .routing import RankdRouting
from .telemetry import RankdTelemetry
from .validation import validate_tool_calls

__all__ = ["RankdRouting", "RankdTelemetry", "attach", "validate_tool_calls"]


def attach(router, rankd_url, ingest_token=None, cache_seconds=5.0, timeout_seconds=0.5, read_token=None):
    """Makes `router` pick deployments by rankd's traffic shares and, with an ingest token, posts every
    request's metadata to rankd. Returns (routing, telemetry); telemetry is None without a token.
    `read_token`: rankd's `tokens.read`, when rankd has one."""
    import litellm

    routing = RankdRouting(router, rankd_url, cache_seconds=cache_seconds, timeout_seconds=timeout_seconds, read_token=read_token)
    register = getattr(router, "register_plugin", None) or router.set_custom_routing_strategy
    register(routing)
    telemetry = None
    if ingest_token:
        telemetry = RankdTelemetry(rankd_url, ingest_token, deployments=routing.deployment_endpoint)
        litellm.callbacks = [*getattr(litellm, "callbacks", []), telemetry]
    return routing, telemetry

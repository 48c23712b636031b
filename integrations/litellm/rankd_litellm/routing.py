"""A LiteLLM Router strategy that asks rankd (POST /v1/route) which provider to use.

Each deployment of a model group names its rankd endpoint in `model_info`:
`rankd_endpoint_id` ("provider:model"), or `rankd_provider` (with `rankd_model`, which defaults
to the model group's name). rankd's answer is cached per model and tool use for `cache_seconds`.
When rankd cannot be reached, answers an error, or ranks none of the group's deployments, the
pick falls back to LiteLLM's own default order (simple shuffle, weighted by `weight`, `rpm` or
`tpm`), so rankd being down never takes the gateway down.
"""

import asyncio
import logging
import random
import threading
import time

import httpx

try:
    from litellm.types.router import CustomRoutingStrategyBase
except ImportError:  # older LiteLLM releases
    from litellm.router import CustomRoutingStrategyBase

logger = logging.getLogger("rankd_litellm")


def _entry(deployment, key):
    try:
        return deployment[key]
    except (KeyError, TypeError):
        return getattr(deployment, key, None)


class RankdRouting(CustomRoutingStrategyBase):
    def __init__(self, router, rankd_url, cache_seconds=5.0, timeout_seconds=0.5, failure_backoff_seconds=2.0, seed=None):
        self.router = router
        self.rankd_url = rankd_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self.failure_backoff_seconds = failure_backoff_seconds
        self._cache = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._async_client = None
        self._client = None
        self.picks = {"rankd": 0, "fallback": 0}

    # -- deployments and their rankd endpoints

    def _deployments(self, model_group):
        registry = getattr(self.router, "registry", None)
        entries = registry().all() if callable(registry) else self.router.model_list
        return [d for d in entries if _entry(d, "model_name") == model_group]

    def deployment_endpoint(self, deployment, model_group=None):
        """(rankd model, endpoint id or None, provider or None) of a deployment."""
        info = _entry(deployment, "model_info") or {}
        model = info.get("rankd_model") or model_group or _entry(deployment, "model_name")
        endpoint_id = info.get("rankd_endpoint_id")
        provider = info.get("rankd_provider")
        if endpoint_id and not provider:
            provider = endpoint_id.split(":", 1)[0]
        if endpoint_id and ":" in endpoint_id and not info.get("rankd_model"):
            model = endpoint_id.split(":", 1)[1]
        return model, endpoint_id, provider

    # -- rankd's order, cached

    def _cached(self, key):
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
        return False, None

    def _store(self, key, order, failed):
        lifetime = self.failure_backoff_seconds if failed else self.cache_seconds
        with self._lock:
            self._cache[key] = (time.monotonic() + lifetime, order)

    @staticmethod
    def _body(model, uses_tools):
        return {"model": model, "parameters": ["tools"] if uses_tools else []}

    def _parse(self, response):
        if response.status_code != 200:
            raise RuntimeError(f"rankd answered {response.status_code}")
        return response.json().get("endpoints", [])

    async def _order_async(self, model, uses_tools):
        key = (model, uses_tools)
        hit, order = self._cached(key)
        if hit:
            return order
        try:
            if self._async_client is None:
                self._async_client = httpx.AsyncClient(timeout=self.timeout_seconds)
            response = await self._async_client.post(f"{self.rankd_url}/v1/route", json=self._body(model, uses_tools))
            order = self._parse(response)
            self._store(key, order, failed=False)
        except Exception as error:  # rankd down, slow or answering errors: LiteLLM's own order
            logger.warning("rankd route unavailable for %s (%s); using LiteLLM's default order", model, error)
            order = None
            self._store(key, None, failed=True)
        return order

    def _order_sync(self, model, uses_tools):
        key = (model, uses_tools)
        hit, order = self._cached(key)
        if hit:
            return order
        try:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_seconds)
            response = self._client.post(f"{self.rankd_url}/v1/route", json=self._body(model, uses_tools))
            order = self._parse(response)
            self._store(key, order, failed=False)
        except Exception as error:
            logger.warning("rankd route unavailable for %s (%s); using LiteLLM's default order", model, error)
            order = None
            self._store(key, None, failed=True)
        return order

    # -- the pick

    def _choose(self, deployments, order):
        """The first deployment in rankd's order (demoted endpoints come last in it), or None."""
        if not order:
            return None
        by_endpoint = {}
        by_provider = {}
        for deployment in deployments:
            _, endpoint_id, provider = self.deployment_endpoint(deployment)
            if endpoint_id:
                by_endpoint.setdefault(endpoint_id, deployment)
            if provider:
                by_provider.setdefault(provider, deployment)
        for entry in order:
            deployment = by_endpoint.get(entry.get("endpoint_id")) or by_provider.get(entry.get("provider"))
            if deployment is not None:
                return deployment
        return None

    def _fallback(self, deployments):
        """LiteLLM's default simple shuffle: weighted by weight, rpm or tpm when set, else uniform."""
        for key in ("weight", "rpm", "tpm"):
            weights = [(_entry(d, "litellm_params") or {}).get(key) for d in deployments]
            if all(isinstance(w, (int, float)) and w > 0 for w in weights):
                return self._random.choices(deployments, weights=weights, k=1)[0]
        return self._random.choice(deployments)

    def _pick(self, model, deployments, order):
        chosen = self._choose(deployments, order)
        if chosen is None:
            self.picks["fallback"] += 1
            return self._fallback(deployments)
        self.picks["rankd"] += 1
        return chosen

    @staticmethod
    def _uses_tools(request_kwargs):
        return bool((request_kwargs or {}).get("tools"))

    async def async_get_available_deployment(
        self, model, messages=None, input=None, specific_deployment=False, request_kwargs=None
    ):
        deployments = self._deployments(model)
        if not deployments:
            return None
        rankd_model = self.deployment_endpoint(deployments[0], model)[0]
        order = await self._order_async(rankd_model, self._uses_tools(request_kwargs))
        return self._pick(model, deployments, order)

    def get_available_deployment(self, model, messages=None, input=None, specific_deployment=False, request_kwargs=None):
        deployments = self._deployments(model)
        if not deployments:
            return None
        rankd_model = self.deployment_endpoint(deployments[0], model)[0]
        order = self._order_sync(rankd_model, self._uses_tools(request_kwargs))
        return self._pick(model, deployments, order)

    async def aclose(self):
        if self._async_client is not None:
            await self._async_client.aclose()
        if self._client is not None:
            self._client.close()

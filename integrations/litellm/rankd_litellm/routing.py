"""A LiteLLM Router strategy that routes by rankd's traffic shares.

Each deployment of a model group names its rankd endpoint in `model_info`:
`rankd_endpoint_id` ("provider:model"), or `rankd_provider` (with `rankd_model`, which defaults
to the model group's name).

- A request with tools draws its deployment locally from the model's traffic shares
  (`GET /v1/rankings/{model}`, cached for `cache_seconds`), with the same algorithm as rankd's
  `POST /v1/route` (docs/api.md: a SplitMix64 draw without replacement, weighted by share), so
  the best endpoint gets most requests, every healthy one keeps its floor, demoted ones none,
  and no request waits for a call to rankd.
- A request that carries its own OpenRouter-style `provider` preferences asks `POST /v1/route`
  (preferences filter and sort server-side), per request.
- A request without tools asks `POST /v1/route` for rankd's price-weighted order, cached per
  model for `cache_seconds`.

When rankd cannot be reached, answers an error, or ranks none of the group's deployments, the
pick falls back to LiteLLM's own default order (simple shuffle, weighted by `weight`, `rpm` or
`tpm`), so rankd being down never takes the gateway down.
"""

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

_MASK64 = (1 << 64) - 1


class SplitMix64:
    """rankd's seeded generator (Sources/RankdCore/SplitMix64.swift), bit for bit."""

    def __init__(self, seed):
        self.state = seed & _MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / (1 << 53))


def share_draw(entries, seed):
    """rankd's per-request order (docs/api.md): the entries with a traffic share drawn one by one
    without replacement, weighted by share, from SplitMix64(seed); then the others in rank order.
    `entries` are ranking entries in rank order."""
    rng = SplitMix64(seed)
    pool = [e for e in entries if (e.get("traffic_share") or 0) > 0]
    order = []
    while pool:
        u = rng.uniform() * sum(e["traffic_share"] for e in pool)
        i = 0
        while i < len(pool) - 1 and u >= pool[i]["traffic_share"]:
            u -= pool[i]["traffic_share"]
            i += 1
        order.append(pool.pop(i))
    return order + [e for e in entries if (e.get("traffic_share") or 0) <= 0]


def _entry(deployment, key):
    try:
        return deployment[key]
    except (KeyError, TypeError):
        return getattr(deployment, key, None)


class RankdRouting(CustomRoutingStrategyBase):
    def __init__(
        self, router, rankd_url, cache_seconds=5.0, timeout_seconds=0.5, failure_backoff_seconds=2.0, seed=None, read_token=None
    ):
        self.router = router
        self.rankd_url = rankd_url.rstrip("/")
        # rankd's tokens.read, when it is set there: every read needs it.
        self.headers = {"Authorization": f"Bearer {read_token}"} if read_token else {}
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

    # -- what rankd says, cached

    def _cached(self, key):
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
        return False, None

    def _store(self, key, value, failed):
        lifetime = self.failure_backoff_seconds if failed else self.cache_seconds
        with self._lock:
            self._cache[key] = (time.monotonic() + lifetime, value)

    def _plan(self, model, uses_tools, preferences):
        """(key to cache under or None, method, path, body, kind): what to ask rankd for this request.
        kind "shares": ranking entries to draw from locally; "order": a route answer's order."""
        if preferences:
            body = {"model": model, "parameters": ["tools"] if uses_tools else [], "provider": preferences}
            return None, "POST", "/v1/route", body, "order"
        if uses_tools:
            return (model, "shares"), "GET", "/v1/rankings/" + model, None, "shares"
        return (model, "order"), "POST", "/v1/route", {"model": model, "parameters": []}, "order"

    @staticmethod
    def _parse(response):
        if response.status_code != 200:
            raise RuntimeError(f"rankd answered {response.status_code}")
        return response.json().get("endpoints", [])

    def _settle(self, key, response, error=None):
        """The endpoints of rankd's answer, or None when the request failed or rankd answered an
        error; cached under `key` (a failure briefly)."""
        value = None
        if error is None:
            try:
                value = self._parse(response)
            except Exception as failure:
                error = failure
        if error is not None:  # rankd down, slow or answering errors: LiteLLM's own order
            logger.warning("rankd unavailable (%s); using LiteLLM's default order", error)
        if key is not None:
            self._store(key, value, failed=error is not None)
        return value

    async def _answer_async(self, model, uses_tools, preferences):
        key, method, path, body, kind = self._plan(model, uses_tools, preferences)
        if key is not None:
            hit, value = self._cached(key)
            if hit:
                return kind, value
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(timeout=self.timeout_seconds, headers=self.headers)
        try:
            response = await self._async_client.request(method, self.rankd_url + path, json=body)
        except Exception as error:
            return kind, self._settle(key, None, error)
        return kind, self._settle(key, response)

    def _answer_sync(self, model, uses_tools, preferences):
        key, method, path, body, kind = self._plan(model, uses_tools, preferences)
        if key is not None:
            hit, value = self._cached(key)
            if hit:
                return kind, value
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_seconds, headers=self.headers)
        try:
            response = self._client.request(method, self.rankd_url + path, json=body)
        except Exception as error:
            return kind, self._settle(key, None, error)
        return kind, self._settle(key, response)

    # -- the pick

    def _index(self, deployments):
        by_endpoint, by_provider = {}, {}
        for deployment in deployments:
            _, endpoint_id, provider = self.deployment_endpoint(deployment)
            if endpoint_id:
                by_endpoint.setdefault(endpoint_id, deployment)
            if provider:
                by_provider.setdefault(provider, deployment)
        return lambda entry: by_endpoint.get(entry.get("endpoint_id")) or by_provider.get(entry.get("provider"))

    def _choose(self, deployments, kind, entries):
        """The deployment to use, or None. With shares, the group's ranked entries are drawn by
        share (the group's shares renormalised, as /v1/route does over the eligible endpoints)."""
        if not entries:
            return None
        deployment_of = self._index(deployments)
        if kind == "shares":
            entries = share_draw([e for e in entries if deployment_of(e) is not None], self._random.getrandbits(53))
        for entry in entries:
            deployment = deployment_of(entry)
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

    def _pick(self, deployments, kind, entries):
        with self._lock:  # the shared random generator
            chosen = self._choose(deployments, kind, entries)
            if chosen is None:
                self.picks["fallback"] += 1
                return self._fallback(deployments)
        self.picks["rankd"] += 1
        return chosen

    @staticmethod
    def _request_facts(request_kwargs):
        """(uses tools, OpenRouter-style provider preferences or None) of a request."""
        kwargs = request_kwargs or {}
        preferences = kwargs.get("provider") or (kwargs.get("extra_body") or {}).get("provider")
        return bool(kwargs.get("tools")), preferences or None

    async def async_get_available_deployment(
        self, model, messages=None, input=None, specific_deployment=False, request_kwargs=None
    ):
        deployments = self._deployments(model)
        if not deployments:
            return None
        rankd_model = self.deployment_endpoint(deployments[0], model)[0]
        uses_tools, preferences = self._request_facts(request_kwargs)
        kind, entries = await self._answer_async(rankd_model, uses_tools, preferences)
        return self._pick(deployments, kind, entries)

    def get_available_deployment(self, model, messages=None, input=None, specific_deployment=False, request_kwargs=None):
        deployments = self._deployments(model)
        if not deployments:
            return None
        rankd_model = self.deployment_endpoint(deployments[0], model)[0]
        uses_tools, preferences = self._request_facts(request_kwargs)
        kind, entries = self._answer_sync(rankd_model, uses_tools, preferences)
        return self._pick(deployments, kind, entries)

    async def aclose(self):
        if self._async_client is not None:
            await self._async_client.aclose()
        if self._client is not None:
            self._client.close()

"""A LiteLLM callback that posts each request's metadata (never its text) to rankd's
POST /v1/telemetry, in NDJSON batches, from a background task.

Records carry LiteLLM's call id as `request_id` (rankd counts each once, also when a batch is
retried), the deployment's rankd model and provider, status, time to first token, latency,
token counts, and the gateway's own verdict on the tool calls (`validate_tool_calls`). A batch
that rankd refuses for the moment (429, 503, unreachable) is kept and retried; the queue is
bounded (`max_queue`), and what it drops is counted in `dropped`.
"""

import asyncio
import datetime
import json
import logging
from collections import deque

import httpx

try:
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # pragma: no cover
    CustomLogger = object

from .validation import validate_tool_calls

logger = logging.getLogger("rankd_litellm")


def _seconds(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


class RankdTelemetry(CustomLogger):
    def __init__(self, rankd_url, ingest_token, deployments=None, batch_size=200, flush_seconds=1.0, max_queue=50_000, timeout_seconds=5.0):
        super().__init__()
        self.url = rankd_url.rstrip("/") + "/v1/telemetry"
        self.token = ingest_token
        self.deployment_endpoint = deployments
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.timeout_seconds = timeout_seconds
        self.queue = deque(maxlen=max_queue)
        self.sent = 0
        self.dropped = 0
        self.rejected = 0
        self._task = None
        self._client = None
        self._flush_lock = None
        self.closed = False

    # -- records

    def _endpoint(self, kwargs):
        params = kwargs.get("litellm_params") or {}
        info = params.get("model_info") or (params.get("metadata") or {}).get("model_info") or {}
        group = (params.get("metadata") or {}).get("model_group") or kwargs.get("model")
        model = info.get("rankd_model") or group
        endpoint_id = info.get("rankd_endpoint_id")
        provider = info.get("rankd_provider")
        if self.deployment_endpoint is not None:
            model, endpoint_id, provider = self.deployment_endpoint({"model_info": info, "model_name": group}, group)
        return model, endpoint_id, provider

    def record(self, kwargs, response, start_time, end_time, error=None):
        """The telemetry record of one finished call, or None when its deployment names no rankd endpoint."""
        model, endpoint_id, provider = self._endpoint(kwargs)
        if not endpoint_id and not provider:
            return None
        start = _seconds(start_time)
        end = _seconds(end_time) or start
        first = _seconds(kwargs.get("completion_start_time"))
        tools = kwargs.get("tools") or (kwargs.get("optional_params") or {}).get("tools")
        tool_choice = kwargs.get("tool_choice") or (kwargs.get("optional_params") or {}).get("tool_choice")
        record = {
            "request_id": str(kwargs.get("litellm_call_id") or kwargs.get("id")),
            "timestamp": end,
            "tools_offered": bool(tools),
        }
        if endpoint_id:
            record["endpoint_id"] = endpoint_id
        else:
            record["model"], record["provider"] = model, provider
        if start is not None and end is not None:
            record["latency_ms"] = round(max(0.0, end - start) * 1000, 1)
        if start is not None and first is not None and first >= start:
            record["ttft_ms"] = round((first - start) * 1000, 1)
        if error is not None:
            status = getattr(error, "status_code", None)
            record["status"] = status if isinstance(status, int) and 100 <= status <= 599 else 0
            record["error_type"] = type(error).__name__[:64]
            return record
        record["status"] = 200
        usage = _get(response, "usage")
        if usage is not None:
            record["prompt_tokens"] = _get(usage, "prompt_tokens")
            record["completion_tokens"] = _get(usage, "completion_tokens")
        choices = _get(response, "choices") or []
        if choices:
            choice = choices[0]
            record["finish_reason"] = _get(choice, "finish_reason")
            message = _get(choice, "message")
            valid, _ = validate_tool_calls(tools, _get(message, "tool_calls") if message is not None else None, tool_choice)
            if valid is not None:
                record["tool_call_valid"] = valid
        return record

    def _enqueue(self, record):
        if record is None or self.closed:
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(record)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        try:
            self._enqueue(self.record(kwargs, response_obj, start_time, end_time))
        except Exception as error:  # a callback must never break the request path
            logger.warning("rankd telemetry record failed: %s", error)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        try:
            self._enqueue(self.record(kwargs, response_obj, start_time, end_time, error=kwargs.get("exception") or RuntimeError()))
        except Exception as error:
            logger.warning("rankd telemetry record failed: %s", error)

    # -- sending

    async def _run(self):
        while self.queue:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception as error:  # keep the records; try again at the next tick
                logger.warning("rankd telemetry flush failed: %s", error)

    async def flush(self):
        """Sends what is queued, in batches; stops at the first batch rankd cannot take now."""
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self.timeout_seconds)
            while self.queue:
                batch = [self.queue[i] for i in range(min(self.batch_size, len(self.queue)))]
                body = "\n".join(json.dumps(r, separators=(",", ":")) for r in batch)
                try:
                    response = await self._client.post(
                        self.url,
                        content=body.encode(),
                        headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/x-ndjson"},
                    )
                except httpx.HTTPError as error:
                    logger.warning("rankd telemetry not sent (%s); retrying later", error)
                    return False
                if response.status_code in (429, 503) or response.status_code >= 500:
                    return False
                for _ in batch:
                    self.queue.popleft()
                if response.status_code == 200:
                    answer = response.json()
                    self.sent += answer.get("accepted", 0) + answer.get("duplicates", 0)
                    self.rejected += len(answer.get("rejected", []))
                else:  # 400/401/403/413: this batch cannot be taken as it is; keep going
                    self.rejected += len(batch)
                    logger.warning("rankd refused a telemetry batch: %s %s", response.status_code, response.text[:300])
            return True

    async def aclose(self):
        """Stops taking records (leaving litellm.callbacks), sends what is left and closes the connection."""
        self.closed = True
        try:
            import litellm

            litellm.callbacks = [c for c in getattr(litellm, "callbacks", []) if c is not self]
        except ImportError:  # pragma: no cover
            pass
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
        if self._client is not None:
            await self._client.aclose()

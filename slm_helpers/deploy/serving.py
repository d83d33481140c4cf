"""HTTP serving with FastAPI + uvicorn: request validation, micro-batching, a loopback server, a load test.

FastAPI and uvicorn are imported inside the functions that use them.
"""


import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .releases import Deployment
from .timing import percentiles

MAX_TEXTS = 64
MAX_CHARS = 2000
LABELS = ("negative", "positive")


class RequestError(ValueError):
    """A request the endpoint refuses (answered with HTTP 422 and this message)."""


def validate_texts(payload: object, *, max_texts: int = MAX_TEXTS, max_chars: int = MAX_CHARS) -> list[str]:
    """The list of texts from a ``{"texts": [...]}`` payload, or ``RequestError`` saying what is wrong."""
    if not isinstance(payload, dict) or "texts" not in payload:
        raise RequestError('expected a JSON object like {"texts": ["a review", ...]}')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise RequestError(f'"texts" must be a list of strings, got {type(texts).__name__}')
    if not texts:
        raise RequestError('"texts" is empty: send at least one text')
    if len(texts) > max_texts:
        raise RequestError(f'"texts" has {len(texts)} items; at most {max_texts} per request')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(f'"texts"[{i}] must be a string, got {type(text).__name__}')
        if not text.strip():
            raise RequestError(f'"texts"[{i}] is blank')
        if len(text) > max_chars:
            raise RequestError(f'"texts"[{i}] has {len(text)} characters; at most {max_chars}')
    return texts


class MicroBatcher:
    """Collect concurrent requests for up to ``max_wait_ms`` (or ``max_batch`` texts) and run them as one batch.

    One model call per batch amortises the per-call overhead; the price is up to ``max_wait_ms``
    of extra latency for a request that arrives alone.
    """

    def __init__(self, predict: Callable[[list[str]], np.ndarray], *, max_batch: int = 32, max_wait_ms: float = 2.0):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1000
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def __call__(self, texts: list[str]) -> np.ndarray:
        """P(positive) for ``texts``, computed in a shared batch."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self._queue.get()]
            count, deadline = len(items[0][0]), loop.time() + self.max_wait
            while count < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                items.append(item)
                count += len(item[0])
            texts = [t for item, _ in items for t in item]
            self.batch_sizes.append(len(texts))
            try:
                probs = await asyncio.to_thread(self.predict, texts)
            except Exception as exc:  # every waiting request gets the error, the loop goes on
                for _, future in items:
                    future.set_exception(exc)
                continue
            start = 0
            for item, future in items:
                future.set_result(probs[start : start + len(item)])
                start += len(item)


def make_app(
    deployment: Deployment,
    *,
    labels: Sequence[str] = LABELS,
    max_texts: int = MAX_TEXTS,
    max_chars: int = MAX_CHARS,
    batcher: MicroBatcher | None = None,
) -> Any:
    """A FastAPI app: ``POST /predict`` ``{"texts": [...]}`` -> labels, probabilities, repo id and revision.

    ``GET /health`` says which revision serves; ``/docs`` is the OpenAPI page. Bad input gets a 4xx
    with a message and the server keeps serving. With ``batcher``, concurrent requests share batches.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="SLM course sentiment endpoint", version="1")

    def provenance() -> dict[str, Any]:
        info = deployment.info
        return {"repo_id": info["repo_id"], "revision": info["revision"], "commit": info.get("commit")}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", **provenance()}

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return JSONResponse({"detail": "request body is not UTF-8"}, status_code=400)
        except json.JSONDecodeError as exc:
            return JSONResponse({"detail": f"request body is not valid JSON: {exc}"}, status_code=400)
        try:
            texts = validate_texts(payload, max_texts=max_texts, max_chars=max_chars)
        except RequestError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        if batcher is not None:
            p = await batcher(texts)
        else:
            p = await asyncio.to_thread(deployment.predict_texts, texts)
        return JSONResponse(
            {
                "labels": [labels[int(x > 0.5)] for x in p],
                "probabilities": [[round(1 - float(x), 6), round(float(x), 6)] for x in p],
                **provenance(),
            }
        )

    return app


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (asked from the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None, startup_timeout: float = 20.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its base URL; always stop it."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port} within {startup_timeout} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError(f"uvicorn on 127.0.0.1:{port} did not stop within 10 s")


def post_json(url: str, payload: Any, *, timeout: float = 10.0) -> tuple[int, Any]:
    """POST ``payload`` as JSON to ``url``; ``(status, decoded JSON body)`` (no exception on 4xx)."""
    host, _, path = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request("POST", "/" + path, body=json.dumps(payload), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def load_test(
    url: str, texts: Sequence[str], *, requests: int = 2000, concurrency: int = 8, timeout: float = 10.0
) -> dict[str, Any]:
    """``requests`` POSTs of one text each to ``url + "/predict"`` from ``concurrency`` keep-alive clients.

    Bounded: each client sends ``requests // concurrency`` requests with a per-request timeout.
    Returns throughput (requests/s), latency percentiles (ms) and the count of non-200 answers.
    """
    if requests < concurrency or concurrency < 1:
        raise ValueError("need concurrency >= 1 and requests >= concurrency")
    host = url.removeprefix("http://").rstrip("/")
    per_client = requests // concurrency
    times: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=timeout)
        try:
            for i in range(per_client):
                body = json.dumps({"texts": [texts[(k * per_client + i) % len(texts)]]})
                start = time.perf_counter()
                conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                times[k].append((time.perf_counter() - start) * 1000)
                failures[k] += resp.status != 200
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout * per_client + 5)
    wall = time.perf_counter() - start
    done = [x for ts in times for x in ts]
    if len(done) < per_client * concurrency:
        raise RuntimeError(f"load test finished {len(done)} of {per_client * concurrency} requests")
    return {"requests": len(done), "concurrency": concurrency, "seconds": wall,
            "throughput_rps": len(done) / wall, "failures": sum(failures), **percentiles(done)}

"""Open-loop load at a fixed rate, for `bench/serving.sh`: sends single-row scoring requests at `--rate`
per second for `--seconds` (each on schedule, whether or not earlier ones have answered — so a slow
server's queueing shows in its tail), and prints one JSON line: achieved rate, errors, latency
percentiles in ms."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, default=15)
    a = p.parse_args()
    body = a.body.encode()
    latencies: list[float] = []
    errors = 0
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, headers={"content-type": "application/json"}) as http:

        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with http.post(a.url, data=body) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        n = int(a.rate * a.seconds)
        tasks = []
        for i in range(n):
            due = start + i / a.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

    print(json.dumps({"offered_rps": a.rate, "requests": n, "achieved_rps": round(n / wall, 1), "errors": errors,
                      "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": round(latencies[-1], 3)}))


asyncio.run(main())

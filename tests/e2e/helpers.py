"""Small helpers shared by the e2e tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

import re
import time

import pytest

RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MODEL_ID_RE = re.compile(r"^m-[0-9a-f]{32}$")
DOUBLE_MAX = 1.7976931348623157e308


def now_ms() -> int:
    return int(time.time() * 1000)


def expect_mlflow_error(code: str | tuple[str, ...], match: str | None = None):
    """Context manager: the block raises MlflowException with this error_code (or one of these codes)
    and, if given, a message matching the regex."""
    from mlflow.exceptions import MlflowException

    codes = (code,) if isinstance(code, str) else tuple(code)

    class _Ctx:
        def __enter__(self):
            self._cm = pytest.raises(MlflowException)
            self.excinfo = self._cm.__enter__()
            return self.excinfo

        def __exit__(self, *exc):
            suppressed = self._cm.__exit__(*exc)
            if suppressed:
                err = self.excinfo.value
                assert err.error_code in codes, (
                    f"expected error_code {' or '.join(codes)}, got {err.error_code}: {err.message}"
                )
                if match is not None:
                    assert re.search(match, str(err.message), re.IGNORECASE), (
                        f"message {err.message!r} does not match {match!r}"
                    )
            return suppressed

    return _Ctx()


def api(base_url: str, method: str, path: str, **kwargs):
    """A raw request against the REST API; `path` starts after the host (e.g. /api/2.0/mlflow/...)."""
    import requests

    kwargs.setdefault("timeout", 30)
    return requests.request(method, base_url + path, **kwargs)


def assert_error(resp, status: int, code: str | tuple[str, ...]):
    """The response is a JSON MLflow error body with this HTTP status and error_code."""
    codes = (code,) if isinstance(code, str) else code
    assert resp.status_code == status, (
        f"expected HTTP {status}, got {resp.status_code}: {resp.text[:500]}"
    )
    ctype = resp.headers.get("Content-Type", "")
    assert "json" in ctype, f"error body is not JSON ({ctype!r}): {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, dict), body
    assert body.get("error_code") in codes, f"expected error_code in {codes}, got {body}"
    assert isinstance(body.get("message"), str) and body["message"], body
    return body

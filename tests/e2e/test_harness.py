"""Checks on the suite's own machinery: the 5xx detector must recognise the log lines it looks for."""

from __future__ import annotations

import conftest


def _hit(line: str) -> bool:
    return bool(conftest._LOG_5XX.search(conftest._ANSI.sub("", line)))


def test_log_detector_flags_server_errors():
    assert _hit("\x1b[31mERROR\x1b[0m cairn_mlflow::error: request failed \x1b[3mcode\x1b[0m=InternalError")
    assert _hit("ERROR tower_http::trace::on_failure: response failed classification=Status code: 500 "
                "Internal Server Error latency=3 ms")
    assert _hit("thread 'tokio-runtime-worker' panicked at crates/store/src/lib.rs:10:5:")
    assert _hit('INFO:     127.0.0.1:1 - "POST /api/2.0/mlflow/runs/search HTTP/1.1" 500 Internal Server Error')
    assert _hit('{"level":"ERROR","status":503,"msg":"x"}')


def test_log_detector_ignores_user_errors_and_noise():
    assert not _hit('INFO:     127.0.0.1:1 - "POST /api/2.0/mlflow/runs/search HTTP/1.1" 400 Bad Request')
    assert not _hit("INFO cairn_server::serve: cairn server listening addr=127.0.0.1:5000 startup_ms=500")
    assert not _hit("DEBUG tower_http::trace::on_response: finished processing request latency=503 ms status=404")


def test_response_hook_is_installed():
    import urllib3.connectionpool

    assert urllib3.connectionpool.HTTPConnectionPool._make_request is conftest._recording_make_request

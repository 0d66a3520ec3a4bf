"""HTTP semantics on the UCWA fake: a stock server's refused preflight, the carried bearer."""

from __future__ import annotations

from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.ucwa.service import UcwaService

ORIGIN = "https://app.contoso.com"


def _req(service: UcwaService, method: str, path: str, **headers: str) -> FakeRequest:
    return FakeRequest.build(
        method, service.base_url + path, {k.replace("_", "-"): v for k, v in headers.items()}
    )


def test_stock_ucwa_refuses_a_preflight_with_28020_and_no_cors_headers() -> None:
    service = UcwaService()
    answer = service.handle(
        _req(
            service,
            "OPTIONS",
            "/WebTicket/oauthtoken",
            Origin=ORIGIN,
            Access_Control_Request_Method="POST",
            Access_Control_Request_Headers="content-type, accept, x-ms-origin",
        )
    )
    assert answer.status == 400
    assert "28020" in (answer.header("X-Ms-diagnostics") or "")
    assert not [k for k, _ in answer.headers if k.lower().startswith("access-control-")]


def test_cors_enabled_ucwa_answers_the_preflight() -> None:
    service = UcwaService(cors_origins=[ORIGIN])
    answer = service.handle(
        _req(
            service,
            "OPTIONS",
            "/WebTicket/oauthtoken",
            Origin=ORIGIN,
            Access_Control_Request_Method="POST",
        )
    )
    assert answer.status in (200, 204)
    assert answer.header("Access-Control-Allow-Origin") == ORIGIN


def test_an_injected_fault_still_logs_the_bearer_the_request_carried() -> None:
    service = UcwaService()
    bearer = service.issue_bearer()
    service.arm_sequence(["500-ServiceFailure"], path="user")
    path = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
    answer = service.handle(_req(service, "GET", path, Authorization=f"Bearer {bearer}"))
    assert answer.status == 500
    assert service.log[-1].token == bearer

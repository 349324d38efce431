"""One provider API request, with httpx's and the provider's failures translated into Oore's errors.

`GITHUB` and `GITLAB` differ only in the name their messages give, the setting to check when the
provider does not answer, and the headers every request carries. Messages say what failed and
what to do, never a credential: tokens travel only in headers and form bodies, and an httpx
error's text (which can hold a URL) is reduced to its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oore.errors import ProviderError, Unavailable

if TYPE_CHECKING:
    import httpx

MAX_DETAIL = 200


@dataclass(frozen=True, slots=True)
class ProviderHttp:
    name: str  # as users know it: "GitHub"
    url_setting: str  # the setting that says where it is
    headers: Mapping[str, str] = field(default_factory=dict)

    async def send(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        token: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer to one request (`token` as a bearer); a transport failure is
        `Unavailable`."""
        import httpx  # loaded already: `http` is a client (see oore.providers.outbound)

        headers = {**self.headers, **kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return await http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"{self.name} did not answer ({type(exc).__name__}); check {self.url_setting} "
                f"and that {self.name} is reachable from this machine"
            ) from exc

    def json_of(self, response: httpx.Response, what: str) -> Any:
        """The JSON of a successful answer; anything else is a `ProviderError` saying `what`
        failed."""
        if not response.is_success:
            raise ProviderError(
                f"{self.name} refused to {what}: {response.status_code} {detail(response)}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{self.name} answered {what} with something that is not JSON"
            ) from exc

    def json_object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """As `json_of`, for an answer that must be a JSON object."""
        body = self.json_of(response, what)
        if not isinstance(body, dict):
            raise ProviderError(
                f"{self.name} answered {what} with something that is not a JSON object"
            )
        return body

    def field(self, body: dict[str, Any], name: str, kind: type, what: str) -> Any:
        """`body[name]` when it has the documented type; else a `ProviderError`."""
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            raise ProviderError(f"{self.name}'s answer to {what} has no valid {name!r}")
        return value


def detail(response: httpx.Response) -> str:
    """The provider's own words for an error (`message`, or OAuth's `error`), kept short."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    words = body.get("message") or body.get("error_description") or body.get("error")
    text = words if isinstance(words, str) else str(words or response.reason_phrase)
    return text[:MAX_DETAIL]


GITHUB = ProviderHttp(
    "GitHub",
    "OORE_GITHUB_API_URL",
    {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
)
GITLAB = ProviderHttp("GitLab", "OORE_GITLAB_URL")

# Who is logged in: a session per browser (an unguessable id in an HttpOnly cookie), each with its user's
# principal and role and an SDK client that speaks to the broker with that user's credential, so the broker
# checks the role and audits every action under that principal. Also the one-time login token of the URL
# `titan up` prints. Owned by the event loop's thread.
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

# What each role may do, as in docs/security.md (the broker checks again: this only hides what would fail).
ROLE_PERMISSIONS = {
    "admin": {"read", "operate", "submit", "admin"},
    "operator": {"read", "operate"},
    "submitter": {"read", "submit"},
    "reader": {"read"},
}
COOKIE = "titan_session"


@dataclass
class Session:
    sid: str
    principal: str
    role: str
    client: Any  # a TitanClient with this user's credential
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = 0.0

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, set())

    def csrf_ok(self, token: Optional[str]) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token)


class Sessions:
    def __init__(self, ttl_s: float, login_token: Optional[str] = None, clock=time.monotonic):
        self.ttl_s = ttl_s
        self._clock = clock
        self._by_id: Dict[str, Session] = {}
        self.login_token: Optional[str] = login_token or secrets.token_urlsafe(32)

    def create(self, principal: str, role: str, client: Any) -> Session:
        session = Session(secrets.token_urlsafe(32), principal, role, client, expires=self._clock() + self.ttl_s)
        self._by_id[session.sid] = session
        return session

    def get(self, sid: Optional[str]) -> Optional[Session]:
        session = self._by_id.get(sid or "")
        if session is not None and session.expires < self._clock():
            self.drop(session.sid)
            return None
        return session

    def drop(self, sid: str) -> None:
        session = self._by_id.pop(sid, None)
        if session is not None:
            session.client.close()

    def take_token(self, token: Optional[str]) -> bool:
        """True once for the one-time login token; it is spent by a successful use."""
        if not token or self.login_token is None or not hmac.compare_digest(self.login_token, token):
            return False
        self.login_token = None
        return True

    def close_all(self) -> None:
        for sid in list(self._by_id):
            self.drop(sid)

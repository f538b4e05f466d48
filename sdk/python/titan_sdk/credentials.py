# Credentials: who this client is to a Titan cluster with CURVE on (docs/security.md). A credential
# file is YAML written by `titan keys add` / `titan keys init` (mode 0600): principal, role,
# public_key, secret_key (this client's CURVE keypair, Z85) and server_key (the cluster's public key).
# Found, in order: an explicit path, TITAN_CREDENTIALS, then the link `titan up` made for the broker it
# runs ($TITAN_HOME/clusters/HOST-PORT.cred, TITAN_HOME defaulting to ~/.titan, pointing at the admin
# credential in its data dir), so TitanClient() keeps working unchanged next to `titan up`.
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import yaml
import zmq

from .errors import AuthenticationError


def titan_home() -> Path:
    return Path(os.environ.get("TITAN_HOME", "").strip() or Path.home() / ".titan")


def cluster_link(host: str, port: int) -> Path:
    """Where `titan up` links the admin credential of the broker it runs at host:port."""
    return titan_home() / "clusters" / ("%s-%d.cred" % (host, port))


@dataclass(frozen=True)
class Credential:
    principal: str
    role: str
    public_key: str
    secret_key: str
    server_key: str
    path: str = ""

    def __repr__(self) -> str:  # never the secret key
        return "Credential(principal=%r, role=%r, path=%r)" % (self.principal, self.role, self.path)

    def apply(self, sock: zmq.Socket) -> None:
        """Makes `sock` a CURVE client with this credential (before connect)."""
        sock.curve_serverkey = self.server_key.encode()
        sock.curve_publickey = self.public_key.encode()
        sock.curve_secretkey = self.secret_key.encode()


def _key(doc: dict, name: str, path: str) -> str:
    key = doc.get(name)
    if not isinstance(key, str) or len(key) != 40:
        raise AuthenticationError("credential file %s: %r is missing or not a CURVE key (40 characters of Z85); "
                                  "make a new one with `titan keys add NAME --role ROLE`" % (path, name))
    return key


def load_credential(path: Union[str, Path]) -> Credential:
    """Reads a credential file; AuthenticationError names the file and what is wrong with it."""
    path = str(path)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise AuthenticationError("cannot read credential file %s: %s" % (path, e.strerror)) from None
    return parse_credential(text, path)


def parse_credential(text: str, path: str = "") -> Credential:
    """A credential from the text of a credential file (a service that is handed one, e.g. a login form);
    `path` names where it came from in errors (and is kept for reread; "" when there is no file)."""
    where = path or "(given as text)"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise AuthenticationError("credential file %s is not YAML: %s" % (where, e)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("principal"), str):
        raise AuthenticationError("credential file %s names no principal" % where)
    public, secret = _key(doc, "public_key", where), _key(doc, "secret_key", where)
    if zmq.curve_public(secret.encode()).decode() != public:
        raise AuthenticationError("credential file %s: public_key does not belong to secret_key" % where)
    return Credential(doc["principal"], str(doc.get("role", "")), public, secret, _key(doc, "server_key", where),
                      path)


def find_credential(explicit: Union[str, Path, Credential, None] = None, host: str = "", port: int = 0
                    ) -> Optional[Credential]:
    """The credential to use: `explicit` (a file, or a Credential already read), else TITAN_CREDENTIALS, else
    the link `titan up` made for the broker at host:port when it exists; None when there is none (the client
    then speaks plaintext, which only a keyless loopback node accepts)."""
    if isinstance(explicit, Credential):
        return explicit
    if explicit:
        return load_credential(explicit)
    env = os.environ.get("TITAN_CREDENTIALS", "").strip()
    if env:
        return load_credential(env)
    link = cluster_link(host, port)
    if host and link.exists():  # exists() is False for a link whose data dir is gone
        return load_credential(link)
    return None


def reread(credential: Credential) -> Optional[Credential]:
    """The credential now in `credential.path` when that file holds another one (a rotated server key, a re-issued
    keypair): what a client re-reads after a refused handshake, so it survives `titan keys rotate` without a
    restart. None when it has no path, or the file is unchanged or cannot be read (the caller keeps its own)."""
    if not credential.path:
        return None
    try:
        fresh = load_credential(credential.path)
    except AuthenticationError:
        return None
    keys = lambda c: (c.public_key, c.secret_key, c.server_key)  # noqa: E731
    return None if keys(fresh) == keys(credential) else fresh

# How failures reach the MCP client: an expected failure (the broker refused, a job or DAG is unknown, a
# local file is missing, an argument is out of range) becomes a ToolError (a tool result with isError and the
# message) or a ResourceError, carrying the broker's reason; anything else is the MCP SDK's to report as a
# crash of that one call. The server itself never stops for either.
import functools
from typing import Any, Callable, Optional, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from titan_sdk import ForbiddenError, TitanError
from titan_sdk.credentials import Credential

F = TypeVar("F", bound=Callable[..., Any])

# What a tool or resource may raise for a reason the caller can act on.
EXPECTED = (TitanError, ValueError, TypeError, OSError)


def explain(e: BaseException, credential: Optional[Credential]) -> str:
    """The message for a failure: the SDK's (with the broker's code and reason), and for FORBIDDEN who this
    server acts as and how to give it a role that may."""
    text = str(e) or type(e).__name__
    if isinstance(e, ForbiddenError):
        who = ("principal '%s' (role %s)" % (credential.principal, credential.role) if credential is not None
               else "no credential")
        text += (". This MCP server acts as %s; ask an admin for a credential with a role that allows this "
                 "(`titan keys add NAME --role operator`) and start `titan mcp --credentials FILE` with it"
                 % who)
    return text


def reported(credential: Optional[Credential], error: type = ToolError) -> Callable[[F], F]:
    """Decorates a tool (error=ToolError) or a resource (error=ResourceError): EXPECTED failures are raised
    as `error` with explain()'s message. Keeps the signature, which the MCP SDK reads for the schema."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (ToolError, ResourceError):
                raise
            except EXPECTED as e:
                raise error(explain(e, credential)) from e
        return call  # type: ignore[return-value]
    return wrap


def resource_reported(credential: Optional[Credential]) -> Callable[[F], F]:
    return reported(credential, ResourceError)

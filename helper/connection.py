"""Open (and close) a pyVmomi session, turning every way it can fail into a one-line HelperError."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from types import TracebackType
from typing import Any, Optional

from helper.credentials import DEFAULT_CONNECT_TIMEOUT_S, Credentials
from helper.errors import ExitCode, HelperError
from helper.versions import ApiVersion, parse_api_version
from helper.vmomi import Disconnect, SmartConnect, version_ids, vim, vmodl

CONNECT_TIMEOUT_S = DEFAULT_CONNECT_TIMEOUT_S
_TLS_HINT = (
    "the endpoint's certificate is not trusted; install its CA (SSL_CERT_FILE) or, for a lab endpoint "
    "with a self-signed certificate only, set VMWARE_VALIDATE_CERTS=false"
)


def _ssl_context(validate: bool) -> ssl.SSLContext:
    # Always pass a context: given none, pyVmomi silently skips certificate checks for localhost and
    # 127.0.0.1, and checks must stay on unless the user turned them off.
    if validate:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _is_cert_failure(error: BaseException) -> bool:
    return isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(error)


def connection_error(error: BaseException, endpoint: str, timeout: float = CONNECT_TIMEOUT_S) -> HelperError:
    """Map what pyVmomi, http.client, ssl and socket raise while talking to the endpoint."""
    if _is_cert_failure(error):
        return HelperError(
            ExitCode.UNREACHABLE, f"{endpoint}: TLS certificate verification failed ({error})", _TLS_HINT
        )
    if isinstance(error, vim.fault.InvalidLogin):
        return HelperError(
            ExitCode.BAD_CREDENTIALS,
            f"{endpoint}: login refused for this user name and password",
            "check VMWARE_USER and VMWARE_PASSWORD",
        )
    if isinstance(error, ssl.SSLError):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: TLS handshake failed ({error})")
    if isinstance(error, ConnectionRefusedError):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: connection refused (is vCenter/ESXi there?)")
    if isinstance(error, (socket.timeout, TimeoutError)):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: no answer within {timeout:g} s")
    if isinstance(error, socket.gaierror):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: unknown host name ({error})")
    if isinstance(error, (OSError, http.client.HTTPException)):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: cannot talk to the endpoint ({error})")
    if isinstance(error, vim.fault.HostConnectFault):
        return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: cannot talk to the endpoint ({error.msg})")
    if isinstance(error, vmodl.MethodFault):
        name = type(error).__name__
        return HelperError(ExitCode.SERVER_FAULT, f"{endpoint}: the server refused the login ({name}: {error.msg})")
    # SmartConnect raises a bare Exception when the answer is not a vSphere version document.
    return HelperError(ExitCode.UNREACHABLE, f"{endpoint}: not a vSphere endpoint ({error})")


class Session:
    """A logged-in connection: ``with Session.open(credentials) as session: ...`` logs out at the end."""

    def __init__(self, service_instance: Any, endpoint: str) -> None:
        self.service_instance = service_instance
        self.content: Any = service_instance.RetrieveContent()
        self.endpoint = endpoint
        self.api_version: ApiVersion = negotiated_api_version(service_instance)

    @classmethod
    def open(cls, credentials: Credentials) -> Session:
        timeout = credentials.connect_timeout
        # pyVmomi's version probe opens its own connections with no timeout (an endpoint that accepts TCP and
        # never speaks TLS would hang it for good): the default socket timeout covers every socket the connect
        # opens. The helper is single-threaded, so changing it for the connect affects nothing else.
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            si = SmartConnect(
                host=credentials.host,
                port=credentials.port,
                user=credentials.user,
                pwd=credentials.password,
                sslContext=_ssl_context(credentials.validate_certs),
                httpConnectionTimeout=timeout,
            )
            return cls(si, credentials.endpoint)
        except HelperError:
            raise
        except Exception as error:  # every failure to connect becomes one line and a documented code
            raise connection_error(error, credentials.endpoint, timeout) from None
        finally:
            socket.setdefaulttimeout(previous)

    def close(self) -> None:
        # The session is gone either way; a failed logout must not hide the command's result.
        with contextlib.suppress(Exception):
            Disconnect(self.service_instance)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


def negotiated_api_version(service_instance: Any) -> ApiVersion:
    """The version pyVmomi serialises requests at (not what the server advertises): it decides what is dropped."""
    version_name = service_instance._GetStub().version  # e.g. "vim.version.v8_0_1_0"
    return parse_api_version(version_ids[version_name])

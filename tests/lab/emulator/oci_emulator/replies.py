"""Every SMTP reply the emulator sends, in one place.

Replies marked ORACLE carry the code and text listed on OCI Email Delivery's troubleshooting
page (see oci-facts.md). Replies marked OURS are the emulator's choice where Oracle documents
no text; clients must not depend on their wording.
"""

from __future__ import annotations

# --- ORACLE: texts from the OCI Email Delivery troubleshooting page -----------------------
TOO_MANY_AUTH_FAILURES = "421 Too many auth failures, try again later"
IDLE_TIMEOUT = "421 Timeout waiting for data from client"
TOO_MANY_CONNECTIONS = "421 Too many connections, try again later"
SERVER_ERROR = "451 Server error"
ERROR_IN_PROCESSING = "451 Error in Processing"
PER_MINUTE_LIMIT = "455 Maximum messages sent per minute reached : limit is {limit}"
PER_DAY_LIMIT = "455 Maximum messages sent per day reached : limit is {limit}"
NOT_BASE64 = "501 Invalid command argument, not a valid Base64 string"
NO_NUL = "501 Invalid command argument, does not contain NUL"
NO_SECOND_NUL = "501 Invalid command argument, does not contain the second NUL"
NEED_RCPT = "503 Need RCPT command"
METHOD_NOT_SUPPORTED = "504 Method not supported"
CREDENTIALS_INVALID = "535 Authentication credentials invalid"
AUTHENTICATION_REQUIRED = "535 Authentication required"
# Oracle's page shows "address <a> not authorized" with the address as a placeholder; the
# emulator puts the bare address there (and "<>" for an empty one).
NOT_AUTHORIZED = "535 Authorization failed: address {address} not authorized"
EXCEEDS_BYTE_LIMIT = "552 Exceeds byte limit"
INVALID_ADDRESS = "553 Invalid email address"
PARSE_ERROR = "554 Message parse error"
# Listed by Oracle as "accepted but recipient is on the suppression list"; offered as an
# alternative for `suppressed_reply` in the configuration (the default is a plain 250).
SUPPRESSION_FOR_USER = "254 4.7.1 Suppression for user"

# --- OURS: Oracle documents no text for these ---------------------------------------------
# RFC 3207's wording; aiosmtpd uses the same.
MUST_STARTTLS = "530 Must issue a STARTTLS command first"
# RFC 3207's wording for a server that will not negotiate TLS (the starttls_stripped fault).
TLS_NOT_AVAILABLE = "454 TLS not available due to temporary reason"
TLS_ALREADY_ACTIVE = "503 TLS already active"
AUTH_ABORTED = "501 Authentication aborted"
AUTH_SUCCESSFUL = "235 Authentication successful"
ALREADY_AUTHENTICATED = "503 Already authenticated"
AUTH_SYNTAX = "501 Syntax: AUTH PLAIN [initial-response]"
MAIL_SYNTAX = "501 Syntax: MAIL FROM:<address> [SP <mail-parameters>]"
NESTED_MAIL = "503 Error: nested MAIL command"
UNKNOWN_MAIL_PARAMETER = "555 MAIL FROM parameters not recognized or not implemented"
OK = "250 OK"
ACCEPTED = "250 OK id={id}"

# aiosmtpd's own replies for situations Oracle documents, reworded to Oracle's text. aiosmtpd
# 1.4.4 (Debian 12) and 1.4.6 (the project venv) use identical wording; the tests pin each.
REWORDED_FROM_AIOSMTPD: dict[str, str] = {
    "552 Error: Too much mail data": EXCEEDS_BYTE_LIMIT,
    "503 Error: need RCPT command": NEED_RCPT,
    "501 5.5.2 Can't decode base64": NOT_BASE64,
    "553 5.1.3 Error: malformed address": INVALID_ADDRESS,
    "530 5.7.0 Authentication required": AUTHENTICATION_REQUIRED,
}


def code_of(reply: str) -> int:
    """The three-digit code at the start of a reply line."""
    return int(reply[:3])


def closes_connection(reply: str) -> bool:
    """421 means the server is closing the channel (RFC 5321 4.2.3); the emulator does so."""
    return reply.startswith("421")

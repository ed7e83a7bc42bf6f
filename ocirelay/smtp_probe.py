"""Log in to the OCI Email Delivery endpoint the way the relay will, and send no mail.

Runs ON THE TARGET HOST with nothing but Python's standard library (Python 3.6 and later: Oracle
Linux 8's platform-python), so the roles ship this file's source and run it with the host's
interpreter; `ocirelay` on the controller explains the result (ocirelay.preflight).

    python3 smtp_probe.py --host H --port 587 --tls-level secure [--ca-file F]  < credentials.json

The credentials come on stdin as JSON {"username": ..., "password": ...}, never in argv or the
environment, and are never printed. One JSON object goes to stdout; the exit status is 0 when the
login worked and 1 otherwise.

Stages: resolve, connect (greeting), ehlo, starttls (587) or tls (465), auth, quit.
"""

import argparse
import base64
import contextlib
import json
import os
import smtplib
import socket
import ssl
import sys

TLS_LEVELS = ("secure", "verify", "encrypt")


class ProbeFailure(Exception):
    """The probe stops: `kind` says what failed, `detail` the evidence."""

    def __init__(self, kind, detail, code=None, reply=None):
        # type: (str, str, int | None, str | None) -> None
        super().__init__(kind)
        self.kind = kind
        self.detail = detail
        self.code = code
        self.reply = reply


class Redactor:
    """Removes the password (and the AUTH PLAIN token made from it) from any text."""

    def __init__(self, username, password):
        # type: (str, str) -> None
        secrets = [password] if password else []
        if password:
            for token in ("\0" + username + "\0" + password, username + "\0" + password):
                with contextlib.suppress(UnicodeError):
                    secrets.append(base64.b64encode(token.encode("utf-8")).decode("ascii"))
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, text):
        # type: (object) -> str
        text = str(text)
        for secret in self.secrets:
            text = text.replace(secret, "(hidden)")
        return text


def tls_context(level, ca_file, ca_file_is_default):
    # type: (str, str | None, bool) -> tuple[ssl.SSLContext, str]
    """The client TLS context the TLS level asks for, and where its trust anchors come from."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if hasattr(ssl, "TLSVersion"):
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    else:  # Python 3.6
        context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    if level == "encrypt":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context, "none (encrypt: the certificate is not verified)"
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    if ca_file and os.path.isfile(ca_file):
        try:
            context.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError) as error:
            raise ProbeFailure("ca_unreadable", f"{ca_file}: {error}") from None
        return context, ca_file
    if ca_file and not ca_file_is_default:
        raise ProbeFailure("ca_missing", ca_file)
    # The OS bundle is not there yet (ca-certificates is installed later): OpenSSL's defaults.
    context.load_default_certs()
    return context, "OpenSSL's default paths (%s is missing)" % (ca_file or "no CA file given")


def classify_tls_error(error):
    # type: (BaseException) -> ProbeFailure
    verify_error = getattr(ssl, "SSLCertVerificationError", None)
    reason = getattr(error, "reason", "") or ""
    if (verify_error is not None and isinstance(error, verify_error)) \
            or reason == "CERTIFICATE_VERIFY_FAILED" \
            or isinstance(error, getattr(ssl, "CertificateError", ())):
        detail = getattr(error, "verify_message", None) or str(error)
        return ProbeFailure("tls_verify_failed", detail)
    text = str(error)
    if any(word in (reason + text).upper() for word in
           ("UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "WRONG_SSL_VERSION", "NO_PROTOCOLS",
            "TLSV1_ALERT_PROTOCOL_VERSION")):
        return ProbeFailure("tls_too_old", text)
    return ProbeFailure("tls_handshake_failed", text)


def connect_failure(error, host, port):
    # type: (BaseException, str, int) -> ProbeFailure
    if isinstance(error, socket.timeout):
        return ProbeFailure("timeout", f"no answer from {host} port {port}")
    if isinstance(error, ConnectionRefusedError):
        return ProbeFailure("refused", f"{host} port {port} refused the connection")
    if isinstance(error, (ssl.SSLError, getattr(ssl, "CertificateError", ()))):
        return classify_tls_error(error)
    if isinstance(error, smtplib.SMTPConnectError):
        return ProbeFailure("greeting", "the endpoint refused the session", error.smtp_code,
                            decode(error.smtp_error))
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return ProbeFailure("disconnected", f"the endpoint closed the connection: {error}")
    return ProbeFailure("unreachable", f"{type(error).__name__}: {error}")


def decode(reply):
    # type: (object) -> str
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)


def probe(args, username, password, report):
    # type: (argparse.Namespace, str, str, dict) -> None
    """Fill `report` stage by stage; raise ProbeFailure where it stops."""
    report["stage"] = "resolve"
    try:
        infos = socket.getaddrinfo(args.host, args.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ProbeFailure("resolve_failed", f"{args.host}: {error.strerror or error}") from None
    report["addresses"] = sorted({info[4][0] for info in infos})

    context, trust = tls_context(args.tls_level, args.ca_file, args.ca_file_is_default)
    report["trust"] = trust
    report["stage"] = "connect"
    wrapper = args.port == 465
    try:
        if wrapper:
            smtp = smtplib.SMTP_SSL(host=args.host, port=args.port, timeout=args.timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(host=args.host, port=args.port, timeout=args.timeout)
    except (OSError, smtplib.SMTPException) as error:
        raise connect_failure(error, args.host, args.port) from None
    try:
        conversation(smtp, args, username, password, report, wrapper, context)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def ehlo(smtp, report, stage):
    # type: (smtplib.SMTP, dict, str) -> None
    report["stage"] = stage
    try:
        code, reply = smtp.ehlo()
    except (OSError, smtplib.SMTPException) as error:
        raise connect_failure(error, "the endpoint", 0) from None
    if code != 250:
        raise ProbeFailure("smtp_error", "EHLO refused", code, decode(reply))


def conversation(smtp, args, username, password, report, wrapper, context):
    # type: (smtplib.SMTP, argparse.Namespace, str, str, dict, bool, ssl.SSLContext) -> None
    ehlo(smtp, report, "ehlo")
    if not wrapper:
        report["starttls_offered"] = smtp.has_extn("starttls")
        if not report["starttls_offered"]:
            raise ProbeFailure("starttls_missing", "EHLO did not offer STARTTLS")
        report["stage"] = "starttls"
        try:
            code, reply = smtp.starttls(context=context)
        except smtplib.SMTPResponseException as error:
            raise ProbeFailure("starttls_refused", "STARTTLS refused", error.smtp_code,
                               decode(error.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as error:
            raise connect_failure(error, args.host, args.port) from None
        if code != 220:
            raise ProbeFailure("starttls_refused", "STARTTLS refused", code, decode(reply))
        ehlo(smtp, report, "ehlo_tls")
    sock = smtp.sock
    if isinstance(sock, ssl.SSLSocket):
        report["tls_version"] = sock.version()
        cipher = sock.cipher()
        report["cipher"] = cipher[0] if cipher else None
        report["certificate_verified"] = args.tls_level != "encrypt"
    size = smtp.esmtp_features.get("size", "").strip()
    report["size"] = int(size) if size.isdigit() else None
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    report["auth_mechanisms"] = mechanisms
    if "PLAIN" not in mechanisms:
        raise ProbeFailure("auth_plain_missing", "AUTH offered after TLS: %s" %
                           (" ".join(mechanisms) or "none"))
    report["stage"] = "auth"
    smtp.user, smtp.password = username, password
    try:
        code, reply = smtp.auth("PLAIN", smtp.auth_plain)
    except smtplib.SMTPAuthenticationError as error:
        raise ProbeFailure("auth_failed", "AUTH PLAIN refused", error.smtp_code,
                           decode(error.smtp_error)) from None
    except smtplib.SMTPResponseException as error:
        raise ProbeFailure("auth_failed", "AUTH PLAIN refused", error.smtp_code,
                           decode(error.smtp_error)) from None
    except UnicodeError:
        raise ProbeFailure("auth_encoding", "the user name or password is not ASCII") from None
    except (OSError, smtplib.SMTPException) as error:
        raise connect_failure(error, args.host, args.port) from None
    report["auth"] = {"code": code, "reply": decode(reply)}
    report["stage"] = "quit"


def parse_args(argv):
    # type: (list[str] | None) -> argparse.Namespace
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-level", choices=TLS_LEVELS, default="secure")
    parser.add_argument("--ca-file", default=None)
    parser.add_argument("--ca-file-is-default", action="store_true",
                        help="the CA file is the OS bundle: fall back to OpenSSL's defaults "
                        "when it is not installed yet")
    parser.add_argument("--timeout", type=float, default=20.0)
    return parser.parse_args(argv)


def main(argv=None, stdin=None):
    # type: (list[str] | None, object) -> int
    args = parse_args(argv)
    report = {"ok": False, "host": args.host, "port": args.port, "tls_level": args.tls_level,
              "stage": "start"}  # type: dict
    try:
        credentials = json.load(stdin or sys.stdin)
        username = str(credentials["username"])
        password = str(credentials["password"])
    except (ValueError, KeyError, TypeError):
        report.update(kind="no_credentials", detail="stdin must hold JSON with username and "
                      "password")
        print(json.dumps(report))
        return 1
    redact = Redactor(username, password)
    try:
        probe(args, username, password, report)
        report["ok"] = True
    except ProbeFailure as failure:
        report.update(kind=failure.kind, detail=redact(failure.detail), code=failure.code,
                      reply=None if failure.reply is None else redact(failure.reply))
    except Exception as error:  # anything unforeseen: say what, never with a secret
        report.update(kind="internal", detail=redact(f"{type(error).__name__}: {error}"))
    print(json.dumps(report, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

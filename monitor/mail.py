"""Deliver a message: SMTP when configured, else an .eml (and .html) file in the outbox."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from monitor.config import ENV_SMTP_PASSWORD, MailConfig, SmtpTarget

SMTP_TIMEOUT_S = 30  # connecting, the greeting, STARTTLS, logging in
# From MAIL FROM to the server's reply after the message. RFC 5321 (4.5.3.2) gives a server up to
# 10 minutes for that last reply (content scanning): giving up sooner has it deliver a message
# that newsmon counts as not sent, and sends again. A slow server holds up only mail: `run` sends
# digests in jobs of their own.
TRANSACTION_TIMEOUT_S = 600


class MailError(RuntimeError):
    """The message was not accepted; nothing may be recorded as sent."""


class LoginError(smtplib.SMTPException):
    """Logging in could not even be tried; the message says why, never with the password."""


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", text)[:80]


def write_outbox(msg: EmailMessage, outbox: Path, *, tag: str = "") -> Path:
    """Write <stamp>-<recipient>.eml and the HTML part beside it (to open in a browser)."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    base = f"{stamp}-{_safe_name(msg['To'])}{tag}"  # names hold dots: no with_suffix()
    eml = outbox / f"{base}.eml"
    eml.write_bytes(msg.as_bytes())
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        (outbox / f"{base}.html").write_text(html.get_content(), encoding="utf-8")
    return eml


@contextlib.contextmanager
def _session(target: SmtpTarget) -> Iterator[smtplib.SMTP]:
    """A greeted (and, as configured, encrypted and logged-in) SMTP connection."""
    context = ssl.create_default_context()
    if target.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            target.host, target.port, timeout=SMTP_TIMEOUT_S, context=context
        )
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_S)
    try:
        client.ehlo()
        if target.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if target.user:
            _login(client, target)
        yield client
    finally:
        _quit(client)


def _login(client: smtplib.SMTP, target: SmtpTarget) -> None:
    """smtplib sends user name and password as ASCII only: say so, rather than let its
    UnicodeEncodeError (no SMTPException, so uncaught) end the command with a traceback."""
    if not target.password:  # the server's "535 authentication failed" would not say why
        raise LoginError(f"cannot log in as {target.user}: ${ENV_SMTP_PASSWORD} is not set")
    try:
        client.login(target.user, target.password)
    except UnicodeError:
        which = "the user name" if not target.user.isascii() else f"${ENV_SMTP_PASSWORD}"
        raise LoginError(f"cannot log in: {which} holds characters other than ASCII") from None


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye, whatever the server answers: a message it accepted with 250 stays accepted even
    when QUIT gets a 421 or the connection drops (`with smtplib.SMTP` raised on anything but 221)."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def send(msg: EmailMessage, mail: MailConfig, outbox: Path, *, to: str) -> str:
    """Hand the message over from mail.from's address to exactly `to` (the envelope is never
    guessed from the headers); return what the server said (or the outbox path). Raises MailError."""
    if mail.smtp is None:
        return f"outbox {write_outbox(msg, outbox)}"
    target = mail.smtp
    try:
        with _session(target) as client:
            if client.sock is not None:
                client.sock.settimeout(TRANSACTION_TIMEOUT_S)
            refused = client.send_message(msg, from_addr=mail.sender_address, to_addrs=[to])
            if client.sock is not None:
                client.sock.settimeout(SMTP_TIMEOUT_S)  # QUIT: the message is accepted already
    except (OSError, smtplib.SMTPException) as exc:  # only the error: never the password
        raise MailError(f"SMTP {target.host}:{target.port}: {exc}") from None
    if refused:
        raise MailError(f"SMTP {target.host}:{target.port} refused {', '.join(refused)}")
    return f"accepted by {target.host}:{target.port}"


_SECURITY = {"starttls": "STARTTLS", "ssl": "TLS", "none": "no TLS"}


def check_smtp(mail: MailConfig) -> tuple[bool, str]:
    """Connect, greet, (STARTTLS, log in) and quit: whether that worked, and what happened."""
    if mail.smtp is None:
        return True, "no smtp configured: digests are written to the outbox folder"
    target = mail.smtp
    try:
        with _session(target):
            pass  # connecting, greeting and logging in is the whole check
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"{target.host}:{target.port}: {exc}"
    return True, f"ok ({target.host}:{target.port}, {_SECURITY[target.security]})"

"""E-mail over SMTP: STARTTLS whenever the server offers it, and required for a server off this machine."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from papo_sync.cloud.alerts.message import Notice, subject, text
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.targets import CaregiverError, read_secret_file
from papo_sync.cloud.settings import SmtpSettings
from papo_sync.connection import is_loopback


def compose(notice: Notice, address: str, smtp: SmtpSettings, idempotency_key: str) -> EmailMessage:
    """The e-mail for one caregiver, alert or "ok" update (its Message-ID carries the idempotency key)."""
    message = EmailMessage()
    message["From"] = smtp.from_addr
    message["To"] = address
    message["Subject"] = subject(notice)
    message["Message-ID"] = make_msgid(idstring=idempotency_key, domain="papo.alerts")
    message["X-Papo-Alert"] = str(notice.alert_id)
    message["X-Papo-Event"] = notice.msg_id
    message["X-Papo-Update"] = notice.update  # alert | test | ok
    message.set_content(text(notice))
    return message


def send_email(notice: Notice, address: str, smtp: SmtpSettings, idempotency_key: str) -> Outcome:
    """One attempt at handing the e-mail to the mail server."""
    message = compose(notice, address, smtp, idempotency_key)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context(cafile=smtp.tls_ca))
                client.ehlo()
            elif not is_loopback(smtp.host):
                return Outcome(False, False, f"{smtp.host} offers no STARTTLS: refusing to send alerts in plaintext")
            if smtp.username is not None:
                if smtp.password_file is None:
                    return Outcome(False, False, "smtp.username is set but smtp.password_file is not")
                client.login(smtp.username, read_secret_file(smtp.password_file))
            refused = client.send_message(message)
    except CaregiverError as exc:
        return Outcome(False, False, str(exc))
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}")
    except smtplib.SMTPRecipientsRefused:
        return Outcome(False, False, "the mail server refused the address")
    except ssl.SSLCertVerificationError:
        return Outcome(False, True, f"{smtp.host}'s certificate is not trusted (smtp.tls_ca)")
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome(False, True, f"mail server unreachable: {type(exc).__name__}")
    if refused:
        return Outcome(False, False, "the mail server refused the address")
    return Outcome(True, detail=f"accepted by {smtp.host}:{smtp.port}")

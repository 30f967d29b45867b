"""The email outbox: messages are stored first, then delivered (SMTP when ``SMTP_URL`` is
set, the console log otherwise). A failed delivery stays in the outbox to be retried."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlmodel import col, select

from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.identity.models import EmailOutboxRecord

log = logging.getLogger(__name__)
console = logging.getLogger("media_gateway.email.console")


class Outbox:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._delivering = asyncio.Lock()  # one delivery pass at a time in this process

    async def enqueue(self, recipient: str, kind: str, subject: str, body: str) -> str:
        record = EmailOutboxRecord(recipient=recipient, kind=kind, subject=subject, body=body)
        async with self.database.transaction() as session:
            session.add(record)
        return record.id

    async def deliver_pending(self, limit: int = 50) -> int:
        """Send what is waiting; returns how many were sent."""
        async with self._delivering:
            return await self._deliver(limit)

    async def _deliver(self, limit: int) -> int:
        async with self.database.session() as session:
            result = await session.exec(
                select(EmailOutboxRecord)
                .where(col(EmailOutboxRecord.sent_at).is_(None))
                .where(EmailOutboxRecord.attempts < 5)
                .order_by(col(EmailOutboxRecord.created_at))
                .limit(limit)
            )
            pending = list(result.all())
        sent = 0
        for record in pending:
            error: str | None = None
            try:
                await self._send(record)
            except (OSError, smtplib.SMTPException) as exc:
                error = type(exc).__name__
                log.warning("email delivery failed", extra={"kind": record.kind, "error": error})
            async with self.database.transaction() as session:
                stored = await session.get(EmailOutboxRecord, record.id)
                if stored is None:
                    continue
                stored.attempts += 1
                stored.last_error = error
                if error is None:
                    stored.sent_at = utcnow()
                    sent += 1
                session.add(stored)
        return sent

    async def _send(self, record: EmailOutboxRecord) -> None:
        if not self.settings.smtp_url:
            # embedded mode: the console is the mailbox
            console.info("email to %s: %s\n%s", record.recipient, record.subject, record.body)
            return
        message = EmailMessage()
        message["From"] = self.settings.email_from
        message["To"] = record.recipient
        message["Subject"] = record.subject
        message.set_content(record.body)
        await asyncio.to_thread(_smtp_send, self.settings.smtp_url, message)


def _smtp_send(url: str, message: EmailMessage) -> None:
    """``smtp://user:password@host:port`` (STARTTLS when offered) or ``smtps://...``."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=10)
    else:
        client = smtplib.SMTP(host, parts.port or 25, timeout=10)
    with client:
        client.ehlo()
        if parts.scheme != "smtps" and client.has_extn("starttls"):
            client.starttls()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)

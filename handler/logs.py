"""Logging set-up: text or JSON lines on stderr (journald-friendly), an optional rotating file, and
redaction of registration tokens in every record, whatever logged it."""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
from typing import Optional

LOGGER_NAME = "vmotion_handler"
REDACTED = "********-****-****-****-************"
# Any 8-4-4-4-12 hex string is treated as a token: a token can also hide in a hypervisor reply or a hook's output.
_TOKEN_PATTERN = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def redact(text: str) -> str:
    return _TOKEN_PATTERN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        # A traceback can quote a request or a reply too. Formatters use ``exc_text`` when it is set, so
        # redacting it here covers every handler and format.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            obj.update({k: v for k, v in fields.items() if k not in obj})
        if record.exc_info:
            obj["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(obj, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_logging(log_format: str = "text", level: str = "info", log_file: Optional[str] = None) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    logger.setLevel(getattr(logging, level.upper()))
    logger.propagate = False
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3))
    for h in handlers:
        h.setFormatter(formatter)
        h.addFilter(RedactingFilter())
        logger.addHandler(h)
    return logger

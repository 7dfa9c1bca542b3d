"""The package's one error boundary: the exception hierarchy and the classification of driver errors.

Every failure is either *temporary* (a rebalance, a 5xx, a timeout, a lost connection: retrying later may
succeed) or *permanent* (bad input, a 4xx, a rejected statement, a tampered file: retrying cannot help and
must not hide the cause). Clients raise these two kinds only; :mod:`commodity_platform.task_errors` turns a
:class:`PermanentError` into ``AirflowFailException`` at the task boundary, and lets a :class:`TemporaryError`
propagate so the task's retries with exponential backoff apply.
"""

from __future__ import annotations

import re


class PlatformError(Exception):
    """Base class of all errors raised by this package."""


class TemporaryError(PlatformError):
    """A failure that may succeed when retried (transient network or server condition)."""


class PermanentError(PlatformError):
    """A failure that retrying cannot fix; the message says what to change."""


class ConfigError(PermanentError):
    """Invalid input: a file, field or value that must be corrected. The message names it."""


#: MySQL-protocol error codes (MariaDB, MySQL and Doris FE speak the same protocol) that mean "the server or
#: the connection is briefly unavailable", not "the statement is wrong". Server errors (mysqld_error.h):
#: 1040 ER_CON_COUNT_ERROR (too many connections), 1053 ER_SERVER_SHUTDOWN, 1205 ER_LOCK_WAIT_TIMEOUT,
#: 1213 ER_LOCK_DEADLOCK. Client errors (errmsg.h): 2002 CR_CONNECTION_ERROR, 2003 CR_CONN_HOST_ERROR,
#: 2006 CR_SERVER_GONE_ERROR, 2013 CR_SERVER_LOST, 2055 CR_SERVER_LOST_EXTENDED.
TRANSIENT_MYSQL_ERRORS: frozenset[int] = frozenset({1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055})

# SQLAlchemy wraps a driver error as text: "(MySQLdb.OperationalError) (2013, 'Lost connection ...')".
_WRAPPED_CODE_RE = re.compile(r"\((\d{4}),")


def mysql_error_code(err: BaseException | str) -> int | None:
    """The MySQL error code of a driver error (``err.args[0]``) or of its SQLAlchemy-wrapped text."""
    if isinstance(err, BaseException) and err.args and isinstance(err.args[0], int):
        return err.args[0]
    match = _WRAPPED_CODE_RE.search(str(err))
    return int(match.group(1)) if match else None


def classify_mysql_error(err: BaseException | str, *, where: str) -> TemporaryError | PermanentError:
    """Map a MySQL-protocol driver error to :class:`TemporaryError` or :class:`PermanentError`.

    :param err: the driver exception (mysqlclient, or SQLAlchemy's wrapper) or its message.
    :param where: what was being done, for the message (e.g. ``"migration V002 statement 3"``).
    """
    code = mysql_error_code(err)
    if isinstance(err, BaseException) and len(err.args) > 1 and isinstance(err.args[0], int):
        detail = str(err.args[1])
    else:
        detail = str(err)
    detail = (detail.splitlines() or [""])[0][:500]
    if code in TRANSIENT_MYSQL_ERRORS or "Lost connection" in detail or "Can't connect" in detail:
        return TemporaryError(f"{where}: the server is unavailable (error {code}: {detail}); will retry")
    return PermanentError(f"{where}: the server rejected the statement (error {code}: {detail})")

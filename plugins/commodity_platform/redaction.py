"""Which configuration keys and values are secrets, and how a value may appear in a log or a diff.

One classifier for the whole package: connector specs refuse plaintext secrets with it
(:mod:`commodity_platform.kafka_connect.specs`), and every diff or log line that shows configuration values
(connector config diffs, Kubernetes dry-run diffs) masks with it.

Keys are classified after normalising case and separators: ``secretKey``, ``accessToken``, ``clientSecret``,
``ssl.keystore.key``, ``SSL_KEYSTORE_PASSWORD`` all split into lower-case tokens first. Values are
recognised too: a PEM block (``-----BEGIN ... PRIVATE KEY-----``) or a JAAS config with ``password=`` is
key material whatever its key is called.
"""

from __future__ import annotations

import re
from typing import Any

#: A Kafka config-provider reference, as matched by Kafka's ``ConfigTransformer``:
#: ``${provider:[path:]key}``. The env provider ignores the path, so ``${env:VAR}`` and ``${env::VAR}``
#: are both valid.
REFERENCE_RE = re.compile(r"\$\{(?P<provider>[A-Za-z][A-Za-z0-9_-]*):(?:(?P<path>[^}:]*):)?(?P<key>[^}]+)\}")
_KNOWN_PROVIDERS = frozenset({"env", "file", "dir"})

# Tokens (after splitting a config key on '.', '_' and '-') that mark the value as a secret.
_SECRET_TOKENS = frozenset(
    {"password", "passwd", "pwd", "secret", "token", "credentials", "credential", "apikey", "passphrase"}
)
# Token sequences that mark a secret only together ("api.key", "private.key", "user.info" of the
# Schema Registry basic-auth "user:password" pair, the JAAS login config).
_SECRET_TOKEN_PAIRS = (
    ("api", "key"),
    ("private", "key"),
    ("user", "info"),
    ("jaas", "config"),
    ("access", "key"),
    ("secret", "key"),
    # Kafka's ssl.keystore.key holds the PEM private key itself (KIP-651), as do signing/encryption keys.
    ("keystore", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("sas", "key"),
)
# A key whose *last* token is one of these describes a secret without holding one
# (``sasl.oauthbearer.token.endpoint.url``, ``ssl.keystore.type``, ``credentials.provider.class``).
_NON_VALUE_SUFFIXES = frozenset(
    {"url", "uri", "endpoint", "type", "class", "location", "enabled", "source", "field", "header", "mode"}
)
# Inside *any* value (URLs, query strings, headers, JDBC URLs, JAAS configs): ``password=...``,
# ``api_key=...``, ``token: ...``, ``Authorization: Bearer ...``. References are scrubbed first.
_INLINE_SECRET_RE = re.compile(
    r"""(?<![A-Za-z0-9])
        (?P<k>password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|authorization)
        ["']?\s*[:=]\s*["']?(?:(?:bearer|basic)\s+)?(?P<v>[^"'&;\s,]*)""",
    re.IGNORECASE | re.VERBOSE,
)
# ``scheme://user:password@host`` with a literal password.
_URL_USERINFO_RE = re.compile(r"://[^/\s:@]+:(?P<v>[^@/\s]+)@")
_SCRUBBED = "\x00"
# A PEM block (RFC 7468 "-----BEGIN <label>-----"): private keys, key stores. Certificates alone are public,
# but a value holding any PEM block is treated as key material: a chain often carries its key too.
_PEM_RE = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
# A JAAS login configuration: "<LoginModule class> required|optional|... key=value ...;"
_JAAS_RE = re.compile(r"LoginModule\s+(?:required|requisite|sufficient|optional)\b", re.IGNORECASE)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def is_reference(value: str) -> bool:
    """True when ``value`` is exactly one config-provider reference (``${provider:path:key}``)."""
    match = REFERENCE_RE.fullmatch(value.strip())
    return bool(match and match.group("provider") in _KNOWN_PROVIDERS)


def key_tokens(key: str) -> list[str]:
    """``key`` split on case changes and separators, lower-cased: ``clientSecret`` -> [client, secret]."""
    spaced = _CAMEL_BOUNDARY.sub(" ", key)
    return [t for t in re.split(r"[\s._\-/:]+", spaced.lower()) if t]


def is_key_material(value: str) -> bool:
    """Whether a value *is* a secret whatever its key: a PEM block, or a JAAS config with a literal password."""
    if _PEM_RE.search(value):
        return True
    return bool(_JAAS_RE.search(value) and _inline_plaintext(value))


def is_secret_key(key: str) -> bool:
    """Whether a config key's value must be treated as a secret.

    Tokenising instead of substring matching keeps ``key.converter`` or ``topic.creation...`` from
    matching while still catching ``ssl.keystore.password``, ``aws.secret.access.key`` or
    ``value.converter.basic.auth.user.info``.
    """
    tokens = key_tokens(key)
    if not tokens or tokens[-1] in _NON_VALUE_SUFFIXES:
        return False
    if _SECRET_TOKENS.intersection(tokens):
        return True
    return any(
        tokens[i] == first and tokens[i + 1] == second
        for first, second in _SECRET_TOKEN_PAIRS
        for i in range(len(tokens) - 1)
    )


def plaintext_secret_problem(key: str, value: str) -> str | None:
    """Return why ``key=value`` would put a plaintext secret on the cluster, or None if it is safe.

    A secret-like key must hold references only (a JAAS config may wrap references in its syntax, so
    for it every ``password=``/``secret=`` assignment must be a reference). In every other value an
    inline ``password=...``/``api_key=...`` assignment (a URL query, a JDBC URL) must be a reference too.
    """
    if is_secret_key(key):
        if is_reference(value):
            return None
        if key_tokens(key)[-2:] == ["jaas", "config"]:
            inline = _inline_plaintext(value)
            if inline is None and REFERENCE_RE.search(value):
                return None
            return inline or "the JAAS config holds no config-provider reference for its password"
        return "secret-like key must be a config-provider reference like ${dir:/path:key} or ${env:VAR}"
    if _PEM_RE.search(value):
        return "the value is a PEM block (key material); use a config-provider reference"
    if _JAAS_RE.search(value) and not REFERENCE_RE.search(value):
        return "the value is a JAAS config without a config-provider reference for its password"
    return _inline_plaintext(value)


def _inline_plaintext(value: str) -> str | None:
    scrubbed = REFERENCE_RE.sub(_SCRUBBED, value)
    for match in _INLINE_SECRET_RE.finditer(scrubbed):
        literal = match.group("v")
        if literal and not literal.startswith(_SCRUBBED):
            return f"inline '{match.group('k')}' assignment is not a config-provider reference"
    for match in _URL_USERINFO_RE.finditer(scrubbed):
        if not match.group("v").startswith(_SCRUBBED):
            return "URL carries a literal password (user:password@host); use a config-provider reference"
    return None


def mask_value(key: str, value: str | None) -> str | None:
    """How a config value may appear in logs: references as they are, secret-like literals masked.

    References are not secrets (they name where the secret lives), so showing them makes diffs useful;
    a *live* config may still hold a plaintext secret someone set by hand, which must never be logged.
    """
    if value is None:
        return None
    if is_reference(value):
        return value
    if is_secret_key(key) or is_key_material(value) or _inline_plaintext(value):
        return "***"
    return value


def mask_document(value: Any, key: str = "") -> Any:
    """A copy of a nested document (a Kubernetes object) with every secret-like value masked.

    A mapping entry is masked by its key; an ``env`` entry ``{name: X, value: V}`` by its ``name``
    (``DB_PASSWORD``), since that is where a container's variable name lives.
    """
    if isinstance(value, dict):
        if isinstance(value.get("name"), str) and "value" in value and isinstance(value["value"], str):
            masked = {k: mask_document(v, str(k)) for k, v in value.items() if k != "value"}
            masked["value"] = mask_value(value["name"], value["value"])
            if masked["value"] == value["value"]:
                masked["value"] = mask_value("value", value["value"])
            return masked
        return {k: mask_document(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_document(item, key) for item in value]
    if isinstance(value, str):
        return mask_value(key, value)
    return value

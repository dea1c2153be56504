"""Settings: the only place that reads MIXUN_* variables.

A config file (``MIXUN_CONFIG``, or ``mixun.env`` in the data dir) may set the same variables;
an environment variable always wins over the file.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

DEFAULT_NETWORKS = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    bus_url: str = "memory://"
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    password_max_age_days: int = 90
    password_history: int = 5
    lockout_threshold: int = 5
    lockout_minutes: float = 15
    session_idle_minutes: float = 30
    session_absolute_hours: float = 12
    idle_lock_minutes: float = 10
    max_message_length: int = 10_000
    max_body_bytes: int = 1_000_000
    max_image_bytes: int = 10 * 1024 * 1024
    max_file_bytes: int = 50 * 1024 * 1024
    clamd_socket: str = "/run/clamav/clamd.ctl"
    files_without_scanner: str = "wait"  # wait (held until scanned) | refuse | allow (marked unscanned)
    # Where sends are written: auto (a process of its own under `mixun serve`, a thread of an embedded
    # app), process or thread (sendpath/transport.py).
    send_writer: str = "auto"
    # How long a batch of sends may be held open for more when sends arrive often enough for another to
    # come within it (sendpath/queue.py): fewer write transactions at low rates; 0 turns it off.
    send_linger_ms: float = 15.0
    edit_window_minutes: float = 60 * 24
    recall_window_minutes: float = 2
    send_rate_per_minute: int = 120
    send_burst: int = 30
    # Algorithm of new data keys and their wrapping: aes-256-gcm (default) or sm4-gcm (GB/T 32907).
    cipher: str = "aes-256-gcm"
    # Where new key-encryption keys are made: files in keys/ (default) or an HSM through PKCS#11.
    kek_provider: str = "file"
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token: str = "mixun"  # noqa: S105 - the token's label, not a secret
    pkcs11_pin: str = field(default="", repr=False)
    pkcs11_pin_file: str = ""
    # Where message text's data keys live: empty, keys/datakeys.db (one node); for several nodes a
    # PostgreSQL database of their own, never the content database (docs/keys.md, docs/multinode.md).
    keyring_url: str = field(default="", repr=False)
    # Where period key files live (ADR 0020): outside the data directory, so no backup of it holds them;
    # empty: MIXUN_PERIOD_KEYS_DIR from the environment, else ~/.mixun/period-keys (``period_keys_root``).
    period_keys_dir: str = ""
    directory_rate_per_minute: int = 120  # directory list/search pages per person (harvesting, issue 21)
    directory_card_rate_per_minute: int = 30  # person cards (with their phone) per person
    totp_required_for_all: bool = False
    work_hours: tuple[int, int] = (7, 21)
    work_timezone_offset_hours: int = 8
    ws_queue_limit: int = 1000
    db_lock_timeout_seconds: float = 5.0
    locale: str = "zh-CN"
    argon2: tuple[int, int, int] = (3, 65536, 4)  # time cost, memory KiB, parallelism (argon2id)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys" / "master.key"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **kwargs: object) -> Settings:
        return replace(self, **kwargs)  # type: ignore[arg-type]


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise ValueError(f"MIXUN_{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _argon2_profile(name: str) -> tuple[int, int, int]:
    """`standard` is argon2-cffi's RFC 9106 low-memory profile; `fast` is for test suites only."""
    if name == "fast":
        return (1, 8192, 1)
    return (3, 65536, 4)


def normalise_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form of INTERFACE.md and pick our driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env.get("MIXUN_DATA_DIR", "./var")).resolve()
    config_file = Path(env.get("MIXUN_CONFIG", str(data_dir / "mixun.env")))
    merged = {**_read_env_file(config_file), **{k: v for k, v in env.items() if k.startswith("MIXUN_")}}

    def get(name: str, default: str) -> str:
        return merged.get(f"MIXUN_{name}", default)

    def num(name: str, default: float) -> float:
        return float(get(name, str(default)))

    db_url = get("DATABASE_URL", "") or f"sqlite:///{data_dir / 'mixun.db'}"
    hours = get("WORK_HOURS", "7-21").split("-")
    return Settings(
        data_dir=data_dir,
        database_url=normalise_database_url(db_url),
        bus_url=get("BUS_URL", "memory://"),
        allowed_networks=_networks(get("ALLOWED_NETWORKS", DEFAULT_NETWORKS)),
        trusted_proxies=_networks(get("TRUSTED_PROXIES", "")),
        password_max_age_days=int(num("PASSWORD_MAX_AGE_DAYS", 90)),
        password_history=int(num("PASSWORD_HISTORY", 5)),
        lockout_threshold=int(num("LOCKOUT_THRESHOLD", 5)),
        lockout_minutes=num("LOCKOUT_MINUTES", 15),
        session_idle_minutes=num("SESSION_IDLE_MINUTES", 30),
        session_absolute_hours=num("SESSION_ABSOLUTE_HOURS", 12),
        idle_lock_minutes=num("IDLE_LOCK_MINUTES", 10),
        max_message_length=int(num("MAX_MESSAGE_LENGTH", 10_000)),
        max_body_bytes=int(num("MAX_BODY_BYTES", 1_000_000)),
        max_image_bytes=int(num("MAX_IMAGE_BYTES", 10 * 1024 * 1024)),
        max_file_bytes=int(num("MAX_FILE_BYTES", 50 * 1024 * 1024)),
        clamd_socket=get("CLAMD_SOCKET", "/run/clamav/clamd.ctl"),
        files_without_scanner=_choice(get("FILES_WITHOUT_SCANNER", "wait"), ("wait", "refuse", "allow"),
                                      "FILES_WITHOUT_SCANNER"),
        send_writer=_choice(get("SEND_WRITER", "auto"), ("auto", "process", "thread"), "SEND_WRITER"),
        send_linger_ms=min(max(num("SEND_LINGER_MS", 15.0), 0.0), 50.0),
        edit_window_minutes=num("EDIT_WINDOW_MINUTES", 60 * 24),
        recall_window_minutes=num("RECALL_WINDOW_MINUTES", 2),
        send_rate_per_minute=int(num("SEND_RATE_PER_MINUTE", 120)),
        send_burst=int(num("SEND_BURST", 30)),
        cipher=_choice(get("CIPHER", "aes-256-gcm"), ("aes-256-gcm", "sm4-gcm"), "CIPHER"),
        kek_provider=_choice(get("KEK_PROVIDER", "file"), ("file", "pkcs11"), "KEK_PROVIDER"),
        pkcs11_module=get("PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"),
        pkcs11_token=get("PKCS11_TOKEN", "mixun"),
        pkcs11_pin=get("PKCS11_PIN", ""),
        pkcs11_pin_file=get("PKCS11_PIN_FILE", ""),
        keyring_url=get("KEYRING_URL", ""),
        period_keys_dir=get("PERIOD_KEYS_DIR", ""),
        directory_rate_per_minute=int(num("DIRECTORY_RATE_PER_MINUTE", 120)),
        directory_card_rate_per_minute=int(num("DIRECTORY_CARD_RATE_PER_MINUTE", 30)),
        totp_required_for_all=get("TOTP_REQUIRED_FOR_ALL", "false").lower() in ("1", "true", "yes"),
        work_hours=(int(hours[0]), int(hours[1])),
        ws_queue_limit=int(num("WS_QUEUE_LIMIT", 1000)),
        db_lock_timeout_seconds=num("DB_LOCK_TIMEOUT_SECONDS", 5.0),
        locale=get("LOCALE", "zh-CN"),
        argon2=_argon2_profile(get("ARGON2_PROFILE", "standard")),
        extra={k: v for k, v in merged.items() if k.startswith("MIXUN_")},
    )


def period_keys_root(environ: dict[str, str] | None = None) -> Path:
    """Where period key files live when the settings do not say: ``MIXUN_PERIOD_KEYS_DIR``, else
    ``~/.mixun/period-keys`` beside the backup key - a place of the host, not of the data directory, so a
    backup never holds them and a restore into any data directory of the same host finds them (ADR 0020)."""
    given = period_keys_root_given(environ)
    return given if given is not None else Path.home() / ".mixun" / "period-keys"


def period_keys_root_given(environ: dict[str, str] | None = None) -> Path | None:
    """``MIXUN_PERIOD_KEYS_DIR`` when the environment sets it (an operator's explicit choice), else None."""
    env = os.environ if environ is None else environ
    given = env.get("MIXUN_PERIOD_KEYS_DIR", "")
    return Path(given).expanduser() if given else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

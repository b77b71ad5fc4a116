"""The cloud's settings: PAPO_CLOUD_* variables (nested with __), then defaults for a local development stack."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from papo_sync.connection import is_loopback


class BrokerSettings(BaseModel):
    """How to reach the MQTT broker."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    password_file: Path | None = Field(
        default=None, description="File holding the password (a systemd credential): read when `password` is unset"
    )
    tls_ca: Path | None = Field(default=None, description="CA bundle: turns TLS on")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=600)

    @model_validator(mode="after")
    def _password_from_file(self) -> BrokerSettings:
        """Read the password from `password_file` when only the file is given (its first line)."""
        if self.password is None and self.password_file is not None:
            try:
                self.password = self.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise ValueError(f"broker.password_file {self.password_file} cannot be read: {exc}") from None
        return self


class SmtpSettings(BaseModel):
    """The mail server caregiver e-mails go through (STARTTLS when offered; required unless it is on loopback)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = Field(default=None, description="A file holding the SMTP password (0600)")
    from_addr: str = Field(default="papo@localhost", description="The sender of the alert e-mails")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    tls_ca: Path | None = Field(default=None, description="CA bundle for the server's certificate (default: system)")


class AlertSettings(BaseModel):
    """The caregiver alert service (`papo-cloud alerts`): channels, acknowledgement link, retries, timing."""

    model_config = ConfigDict(extra="forbid")

    smtp: SmtpSettings = SmtpSettings()
    listen_host: str = Field(default="127.0.0.1", description="Where the acknowledgement page listens")
    listen_port: int = Field(default=8787, ge=0, le=65535, description="0: any free port")
    public_url: str = Field(
        default="http://127.0.0.1:8787",
        description="The acknowledgement page's address as caregivers reach it (https unless loopback)",
    )
    timezone: str = Field(default="America/Sao_Paulo", description="For tenants without an alert policy of their own")
    sweep_s: float = Field(default=2.0, gt=0, le=300, description="How often to look for work NOTIFY did not announce")
    max_event_age_s: int = Field(default=3600, ge=60, description="Older wellbeing events raise no alert")
    senders: int = Field(default=4, ge=1, le=64, description="Deliveries sent at once by one instance")
    lease_s: int = Field(default=120, ge=5, description="A delivery claimed longer ago than this is taken over")
    http_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Of one webhook or ntfy request")
    retry_first_s: float = Field(default=1.0, gt=0, le=600, description="The first retry's delay; doubled each time")
    retry_max_s: float = Field(default=60.0, gt=0, le=3600)
    max_attempts: int = Field(default=6, ge=1, le=50, description="A delivery gives up after this many attempts")
    update_ttl_s: int = Field(default=3600, ge=60, le=86400, description="How long a signed AlertUpdate is valid")
    escalate_after_s: float | None = Field(
        default=None, gt=0, description="Overrides every tenant's escalate_after_min (tests, drills)"
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        """Acknowledgement links are https (http only to this machine): they carry a token."""
        from papo_sync.cloud.alerts.targets import check_url

        return check_url(value)

    @field_validator("listen_host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        """The page itself speaks plain HTTP: only on this machine, behind a TLS reverse proxy."""
        if not is_loopback(value):
            raise ValueError(
                f"the acknowledgement page cannot listen on {value} in plaintext: keep it on 127.0.0.1 and put a "
                "TLS reverse proxy (nginx, Caddy) in front, at alerts.public_url"
            )
        return value


class CloudSettings(BaseSettings):
    """Everything the ingestor and the fleet CLI can be configured with."""

    model_config = SettingsConfigDict(env_prefix="PAPO_CLOUD_", env_nested_delimiter="__", extra="forbid")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/papo"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field(default="papo", pattern=r"^[A-Za-z0-9_:-]{1,32}$")
    broker: BrokerSettings = BrokerSettings()
    batch_max: int = Field(default=2000, ge=1, le=100_000, description="Messages committed together at most")
    batch_wait_ms: int = Field(default=20, ge=0, le=5000, description="How long to gather a batch")
    live_stream_len: int = Field(default=1000, ge=10, description="Turns kept in each device's Redis live stream")
    fleet_signing_key: Path = Field(
        default=Path("/etc/papo-cloud/fleet.key"),
        description="The fleet's Ed25519 private key (PEM, 0600): signs desired state and commands; its public key "
        "(the same name ending in .pub) goes to each device",
    )
    desired_ttl_s: int = Field(
        default=30 * 86400, ge=60, le=365 * 86400,
        description="How long a signed desired state stays valid (it waits, retained, for devices that are away)",
    )  # fmt: skip
    alerts: AlertSettings = AlertSettings()

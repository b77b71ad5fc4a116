"""The cloud's settings: PAPO_CLOUD_* variables (nested with __), then defaults for a local development stack."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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

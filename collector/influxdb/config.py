"""How the collector and the commands that read the store reach InfluxDB."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from pantau.shared.config import Section, resolve_secret


class InfluxConfig(Section):
    api: Literal["v1", "v2"] = Field(
        default="v1", description="v1: InfluxDB 1.x /write; v2: /api/v2/write (2.x, 3.x)"
    )
    url: str = "http://127.0.0.1:8086"
    database: str = Field(default="pantau", description="v1 database; for v2 the DBRP-mapped name")
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Prefer PANTAU_INFLUX__PASSWORD")
    password_file: str | None = Field(default=None, description="File with the password, mode 600")
    token: SecretStr | None = Field(
        default=None, description="v2 token; prefer PANTAU_INFLUX__TOKEN"
    )
    token_file: str | None = None
    org: str | None = None
    bucket: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> InfluxConfig:
        if self.api == "v2" and not self.bucket:
            raise ValueError("api v2 needs 'bucket' (and 'org' and a token)")
        return self

    def resolved_password(self) -> SecretStr | None:
        return resolve_secret(self.password, self.password_file, "influx password")

    def resolved_token(self) -> SecretStr | None:
        return resolve_secret(self.token, self.token_file, "influx token")

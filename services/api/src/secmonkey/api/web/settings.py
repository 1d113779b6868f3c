"""The web console's settings: the session secret and how the session cookie is sent."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from secmonkey.common.settings import CommonSettings, refuse_placeholder

MIN_SECRET_LENGTH = 32


class ConsoleSettings(CommonSettings):
    """Mixed into the API's `Settings`: the console is served by the api service."""

    console_secret: SecretStr | None = Field(
        default=None,
        description="signs console sessions (32+ characters, the same on every replica); "
        "unset: a random secret per process, so sessions end when it restarts",
    )
    console_secure_cookie: bool | None = Field(
        default=None,
        description="send the session cookie over https only; unset: yes in production "
        "and whenever the request came over https",
    )
    console_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="how long a console sign-in lasts"
    )

    @model_validator(mode="after")
    def _real_console_secret(self) -> ConsoleSettings:
        if self.console_secret is None and self.environment == "production":
            raise ValueError(
                "SECMONKEY_CONSOLE_SECRET is required in production (it signs console sessions)"
            )
        if self.console_secret is not None:
            value = self.console_secret.get_secret_value()
            refuse_placeholder(value, "SECMONKEY_CONSOLE_SECRET", self.environment)
            if self.environment == "production" and len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"SECMONKEY_CONSOLE_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                    "in production"
                )
        return self

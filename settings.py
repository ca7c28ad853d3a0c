"""Settings: the one place DealerOS reads the environment.

Everything else receives plain values from `server.py`, which builds a `Settings` once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_DEALER_CONFIG = Path(__file__).resolve().parent / "examples" / "demo" / "dealer.yaml"


class Settings(BaseSettings):
    """The public environment contract (see DESIGN.md)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), validation_alias="DEALEROS_DATA_DIR")
    dealer_config: Path = Field(default=DEMO_DEALER_CONFIG, validation_alias="DEALEROS_DEALER_CONFIG")
    public_url: str | None = Field(default=None, validation_alias="DEALEROS_PUBLIC_URL")
    admin_token: str | None = Field(default=None, validation_alias="DEALEROS_ADMIN_TOKEN")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    chroma_url: str | None = Field(default=None, validation_alias="CHROMA_URL")
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    model: str = Field(default="gpt-4o-mini", validation_alias="DEALEROS_MODEL")
    twilio_account_sid: str | None = Field(default=None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_from_number: str | None = Field(default=None, validation_alias="TWILIO_FROM_NUMBER")

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def twilio_send_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

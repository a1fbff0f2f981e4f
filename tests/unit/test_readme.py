"""The README's configuration table names every setting (and nothing that is gone)."""

import re
from pathlib import Path

from pydantic import BaseModel

from assistant.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _env_names(model: type[BaseModel], prefix: str = "SOURCEWISE_") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= _env_names(ann, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_configuration_table_matches_settings() -> None:
    documented = set(re.findall(r"^\| `(SOURCEWISE_[A-Z_]+)`", README.read_text(), re.M))
    assert documented == _env_names(Settings)

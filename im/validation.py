"""The strict pydantic base of every parameter model and message content shape."""

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class StrictModel(BaseModel):
    """Unknown fields and type coercion are refused; of many unknown fields only the first is reported."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _one_unknown_field_reported(cls, data: Any) -> Any:
        """Keep only the first unknown field for pydantic to refuse: it builds one error per unknown
        field, and an object of 25,000 made-up keys would cost a tenth of a second to describe."""
        if isinstance(data, dict) and len(data) > len(cls.model_fields):
            unknown = next((key for key in data if key not in cls.model_fields), None)
            if unknown is not None:
                kept = {key: data[key] for key in cls.model_fields if key in data}
                kept[unknown] = data[unknown]
                return kept
        return data

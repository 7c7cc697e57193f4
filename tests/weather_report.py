"""The structured answer the SDK and client suites ask for, and what the fake
upstream writes for its schema when the provider's own structured-output field
carries it: every property, one of each (Sources/SwitchboardTesting/FakeStructured.swift)."""
from pydantic import BaseModel, Field


class Report(BaseModel):
    """The weather in a city."""

    city: str
    temperature: float = Field(ge=-100, le=100)
    conditions: list[str]
    windy: bool


REPORT = Report(city="text", temperature=1.5, conditions=["text"], windy=True)

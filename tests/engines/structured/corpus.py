"""Pydantic v2 models as people write them, for the structured-output corpus tests.

Each model's ``model_json_schema()`` is what an SDK (openai, instructor, pydantic-ai, …) sends as
``response_format.json_schema.schema``. The corpus covers formats (EmailStr, datetime, date,
UUID, HttpUrl), Literal, Enum, Optional, nested models, constrained lists and strings,
``dict[str, X]``, discriminated unions, recursive models and ``constr(pattern)``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AnyUrl,
    BaseModel,
    EmailStr,
    Field,
    HttpUrl,
    IPvAnyAddress,
    StringConstraints,
    conint,
    conlist,
    constr,
)

__all__ = ["MODELS", "schemas"]


class Color(enum.StrEnum):
    red = "red"
    green = "green"
    blue = "blue"


class Priority(enum.IntEnum):
    low = 1
    high = 2


class Person(BaseModel):
    name: str
    age: int


class Contact(BaseModel):
    email: EmailStr
    phone: str | None = None


class Event(BaseModel):
    title: str
    when: dt.datetime


class Birthday(BaseModel):
    name: str
    born: dt.date


class Meeting(BaseModel):
    starts: dt.time
    length: dt.timedelta


class Ticket(BaseModel):
    id: uuid.UUID
    subject: str


class Link(BaseModel):
    url: HttpUrl


class AnyLink(BaseModel):
    target: AnyUrl


class Host(BaseModel):
    address: IPvAnyAddress


class Paint(BaseModel):
    color: Color


class Task(BaseModel):
    title: str
    priority: Priority


class Mode(BaseModel):
    mode: Literal["fast", "slow"]


class Flags(BaseModel):
    enabled: bool
    ratio: float


class Optionals(BaseModel):
    nickname: str | None = None
    score: int | None = None


class Address(BaseModel):
    street: str
    city: str
    zip: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]


class Customer(BaseModel):
    name: str
    address: Address


class Order(BaseModel):
    customer: Customer
    items: conlist(str, min_length=1, max_length=3)  # type: ignore[valid-type]


class Tags(BaseModel):
    tags: list[str] = Field(min_length=2, max_length=4)


class Scores(BaseModel):
    scores: dict[str, int]


class Inventory(BaseModel):
    stock: dict[str, Address]


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pet(BaseModel):
    pet: Cat | Dog = Field(discriminator="kind")


class Shape(BaseModel):
    shape: Annotated[Cat | Dog, Field(discriminator="kind")]
    label: str


class TreeNode(BaseModel):
    value: int
    children: list[TreeNode] = []


class Category(BaseModel):
    name: str
    parent: Category | None = None


class Code(BaseModel):
    code: constr(pattern=r"^[A-Z]{3}-[0-9]{3}$")  # type: ignore[valid-type]


class Sku(BaseModel):
    sku: Annotated[str, StringConstraints(min_length=4, max_length=8, pattern=r"^[a-z0-9]+$")]


class Bounded(BaseModel):
    count: conint(ge=1, le=10)  # type: ignore[valid-type]
    share: float = Field(ge=0.0, le=1.0)


class Exclusive(BaseModel):
    level: int = Field(gt=0, lt=100)


class Money(BaseModel):
    amount: Decimal
    currency: Literal["EUR", "USD"]


class Tupled(BaseModel):
    point: tuple[int, int]


class Mixed(BaseModel):
    value: int | str


class Defaults(BaseModel):
    name: str = "anonymous"
    retries: int = 3


class Described(BaseModel):
    city: str = Field(description="The city name, e.g. Paris")
    days: int = Field(description="How many days", ge=1, le=7)


class Invoice(BaseModel):
    number: str
    issued: dt.date
    total: float
    lines: list[Person]


class Profile(BaseModel):
    user: Person
    contact: Contact
    tags: list[str] = []


class Survey(BaseModel):
    answers: list[Literal["yes", "no", "maybe"]]


class Matrix(BaseModel):
    rows: list[list[int]]


class Nullable(BaseModel):
    note: str | None


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")


class Frozenset(BaseModel):
    ids: set[int]


class AnyValue(BaseModel):
    payload: Any


class Receipt(BaseModel):
    shop: str
    when: dt.datetime
    paid: Money
    items: list[Task]


class WeatherQuery(BaseModel):
    city: str
    unit: Literal["celsius", "fahrenheit"] = "celsius"
    date: dt.date | None = None


MODELS: list[type[BaseModel]] = [
    Person, Contact, Event, Birthday, Meeting, Ticket, Link, AnyLink, Host, Paint, Task, Mode,
    Flags, Optionals, Address, Customer, Order, Tags, Scores, Inventory, Pet, Shape, TreeNode,
    Category, Code, Sku, Bounded, Exclusive, Money, Tupled, Mixed, Defaults, Described, Invoice,
    Profile, Survey, Matrix, Nullable, Aliased, Frozenset, AnyValue, Receipt, WeatherQuery,
]  # fmt: skip


def schemas() -> list[tuple[str, dict[str, Any]]]:
    """``(name, JSON schema)`` for every model, as pydantic generates it."""
    return [(model.__name__, model.model_json_schema()) for model in MODELS]

"""6. Generation: build and render UCWA tokens vs polyfactory building the same model.

Ours: ``UcwaTokenFactory.build()`` then ``wire.render_json`` (or ``render_xml``), 10,000 tokens a
round. Baseline: ``ModelFactory[MediaRelayAccessToken].build()`` without rendering. polyfactory
makes a few hundred tokens a second here, so it is timed on a twentieth of the count (500 a
round; the figure is a rate, tokens per second, so the counts need not match).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _common import Benchmark, Row, Settings, guarded, interleave_many, missing, rate

GOAL = ">= 3.0"


def rows(settings: Settings) -> list[Row]:
    missing("polyfactory", "pytest_relaytokens.ucwa.factories", "pytest_relaytokens.ucwa.wire")
    from polyfactory.factories.pydantic_factory import ModelFactory

    from pytest_relaytokens.ucwa import wire
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory
    from pytest_relaytokens.ucwa.models import MediaRelayAccessToken

    ours_count = 1_000 if settings.quick else 10_000
    theirs_count = ours_count // 20

    class TokenFactory(ModelFactory[MediaRelayAccessToken]):
        __model__ = MediaRelayAccessToken

    TokenFactory.seed_random(0)

    def ours(render: Callable[[Any], bytes]) -> Callable[[], float]:
        def measure() -> float:
            factory = UcwaTokenFactory(seed=0)
            return rate(ours_count, lambda: [render(factory.build()) for _ in range(ours_count)])

        return measure

    def baseline() -> float:
        return rate(theirs_count, lambda: [TokenFactory.build() for _ in range(theirs_count)])

    # Warm both sides up (imports, caches) on a few tokens rather than a whole round.
    for render in (wire.render_json, wire.render_xml):
        render(UcwaTokenFactory(seed=0).build())
    TokenFactory.build()

    json_rate, poly_rate, xml_rate = interleave_many(
        [ours(wire.render_json), baseline, ours(wire.render_xml)],
        settings.repeats,
        warmup=False,
    )
    return [
        Row(
            f"generation: {ours_count:,} tokens built + JSON vs polyfactory build",
            "tokens/s",
            json_rate,
            poly_rate,
            GOAL,
        ),
        Row(
            f"generation: {ours_count:,} tokens built + XML vs polyfactory build",
            "tokens/s",
            xml_rate,
            poly_rate,
            GOAL,
        ),
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("generation: UcwaTokenFactory vs polyfactory", lambda: rows(settings))


BENCHMARK = Benchmark("generation", "generation", run)

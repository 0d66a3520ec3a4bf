"""The pytest layer of pytest-relaytokens (``pytest_relaytokens.plugin`` wires it to pytest).

- :mod:`.options`: command-line options and ini keys, checked at configure; the run seed;
- :mod:`.markers`: marker definitions, their signatures and validation at collection;
- :mod:`.collection`: collection-time checks (marker problems, cassette collisions);
- :mod:`.context`: the defaults of the setting fixtures and the per-test context they feed;
- :mod:`.backends`: the fake, replay and live backends behind one protocol;
- :mod:`.network`: one test's ``requests``/``httpx`` interception and network blocking;
- :mod:`.report`: the error-coverage and unused-cassettes reports.

Imports go one way: plugin -> collection/context -> backends/network -> markers/options.
Nothing here imports pydantic, faker, vcrpy, responses or httpx at module level.
"""

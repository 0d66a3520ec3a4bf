"""The pytest layer of pytest-relaytokens.

- :mod:`.hooks`: options, markers, hooks and fixtures only (what ``pytest_relaytokens.plugin``,
  the ``pytest11`` entry point, exposes);
- :mod:`.options`: command-line options and ini keys, checked at configure; the run seed;
- :mod:`.markers`: marker definitions and their validation at collection;
- :mod:`.context`: the per-test context, resolved once and kept in the item's stash;
- :mod:`.backends`: the fake, replay and live backends behind one protocol;
- :mod:`.network`: one test's ``requests``/``httpx`` interception and network blocking;
- :mod:`.report`: the error-coverage and unused-cassettes reports.

Imports go one way: hooks -> context -> backends/network -> markers/options.
Nothing here imports pydantic, faker, vcrpy, responses or httpx at module level.
"""

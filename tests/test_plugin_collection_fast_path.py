"""Collection finds the tests carrying relaytokens markers without scanning every test's whole
node chain: ``carries_our_markers`` scans each parent once. It must give the answer the full
scan (``item.iter_markers()``) gives, wherever the marker sits."""

from __future__ import annotations

import pytest

from pytest_relaytokens.pytest_plugin.collection import _OUR_MARKERS, carries_our_markers

SUITE = """
import pytest

pytestmark = [pytest.mark.slow]


def test_plain():
    pass


@pytest.mark.token_expired
def test_function_marker():
    pass


@pytest.mark.parametrize(
    "n", [1, pytest.param(2, marks=pytest.mark.relaytokens_backend("fake"))]
)
def test_param_marker(n):
    pass


@pytest.mark.relaytokens_backend("fake")
class TestMarkedClass:
    def test_in_marked_class(self):
        pass


class TestPlainClass:
    def test_in_plain_class(self):
        pass

    @pytest.mark.token_never_expires
    def test_marked_method(self):
        pass
"""

MODULE_MARKED = """
import pytest

pytestmark = pytest.mark.ucwa_format("xml")


def test_module_marked():
    pass


class TestInside:
    def test_module_marked_in_class(self):
        pass
"""


def full_scan(item: pytest.Item) -> bool:
    return any(m.name in _OUR_MARKERS for m in item.iter_markers())


def test_fast_path_agrees_with_the_full_scan(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed=SUITE, test_module_marked=MODULE_MARKED)
    items, _ = pytester.inline_genitems()
    assert len(items) == 9
    parents: dict[int, bool] = {}
    found = {item.nodeid.split("::", 1)[1]: carries_our_markers(item, parents) for item in items}
    assert found == {item.nodeid.split("::", 1)[1]: full_scan(item) for item in items}
    assert found == {
        "test_plain": False,
        "test_function_marker": True,
        "test_param_marker[1]": False,
        "test_param_marker[2]": True,
        "TestMarkedClass::test_in_marked_class": True,
        "TestPlainClass::test_in_plain_class": False,
        "TestPlainClass::test_marked_method": True,
        "test_module_marked": True,
        "TestInside::test_module_marked_in_class": True,
    }
    # a parent already scanned is answered from the memo, not scanned again
    assert len(parents) <= 5


def test_a_bad_marker_on_a_module_or_class_is_still_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        pytestmark = pytest.mark.relaytokens_backend("nowhere")


        def test_one():
            pass


        @pytest.mark.ucwa_format("yaml")
        class TestThing:
            def test_two(self):
                pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_bad.py::test_one*relaytokens_backend*nowhere*",
            "*test_bad.py::TestThing::test_two*ucwa_format*yaml*",
        ]
    )

"""Half of a surrogate pair (valid in a JSON escape, not in UTF-8): an error or a log line quoting one is still
written, and the strict JSON of tokens and key sets refuses it."""

from __future__ import annotations

import sys

import orjson
import pytest

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import logs
from groundwork_api.errors import ApiError
from groundwork_api.strict_json import StrictJsonError, loads


def test_an_error_quoting_an_unpaired_surrogate_renders_it_escaped():
    error = ApiError(422, "validation_error", "unknown field \ud800", "practice.\udc00x")
    body = orjson.loads(error.response().body)["error"]
    assert body == {"code": "validation_error", "message": "unknown field \\ud800", "field": "practice.\\udc00x"}


@pytest.mark.parametrize("document", [rb'{"sub": "\ud800"}', rb'{"a": ["x\udfff"]}', rb'{"\udc00": 1}'])
def test_strict_json_refuses_an_unpaired_surrogate_anywhere(document):
    with pytest.raises(StrictJsonError, match="unpaired surrogate"):
        loads(document)


def test_strict_json_reads_a_pair_of_surrogate_escapes_as_one_character():
    assert loads(rb'{"sub": "\ud83c\udfb9 \u00e9"}') == {"sub": "\U0001f3b9 \u00e9"}


def test_a_log_line_quoting_an_unpaired_surrogate_is_written_escaped(capsysbinary):
    logs.emit("warning", "refused", field="practice.\ud800")
    line = capsysbinary.readouterr().out.splitlines()[-1]
    assert orjson.loads(line)["field"] == "practice.\\ud800"

"""Hypothesis strategies for calibration TOML text (issue 42): numbers of any size, NaN, inf, deep
tables and lists, wrong types, degenerate geometry, and raw-text damage. Shared by the in-process test
(``tests/generated/test_calibration_generated.py``) and the API test (``tests/service/test_reliability.py``)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

#: A camera that passes every check; generated cameras start from it and change some fields.
GOOD = {
    "size": [64.0, 64.0], "matrix": [[60.0, 0.0, 32.0], [0.0, 60.0, 32.0], [0.0, 0.0, 1.0]],
    "distortions": [0.0, 0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0], "translation": [0.0, 0.0, 3.0],
    "fisheye": False,
}


def toml_value(v: object) -> str:
    """A TOML literal for ``v`` (floats as TOML spells them; integers of any length; raw text as is)."""
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


class Raw:
    """A literal written into the TOML unchanged (a huge digit string, a date, an odd spelling)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'…' if len(self.text) > 40 else ''})"


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else toml_value(k)


def document(cams: dict[str, dict[str, object]], extra: str = "") -> str:
    out = []
    for name, fields in cams.items():
        out.append(f"[{_key(name)}]")
        out += [f"{_key(k)} = {toml_value(v)}" for k, v in fields.items()]
        out.append("")
    return "\n".join(out) + extra


# Hypothesis draws no subnormal floats itself: in a pytest-xdist worker where an earlier test ran
# onnxruntime (the predictor's session sets denormals-as-zero, which stays set on the calling thread),
# its own check that the smallest subnormal is > 0 fails. Subnormals still come from the sampled list.
_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1e300, 1e200, 5e-324, 1.7976931348623157e308, 64.0, 1.0, -1.0]),
)
_ints = st.one_of(st.integers(), st.integers(min_value=-(10**30), max_value=10**30))
#: Integers of 300–5000 digits (past float range at 309, past Python's int() limit at 4301).
_huge = st.builds(lambda n, sign: Raw(sign + "1" + "0" * n), st.sampled_from([308, 309, 400, 4299, 4300, 5000]),
                  st.sampled_from(["", "-", "+"]))
_odd = st.sampled_from([Raw("1979-05-27T07:32:00Z"), Raw("07:32:00"), Raw("0x1F"), Raw("0o17"), Raw("0b101"),
                        Raw("1_000.5"), Raw("+inf"), Raw("-nan"), Raw("'single'"), Raw('"""multi\nline"""')])
scalars = st.one_of(_floats, _ints, _huge, _odd, st.booleans(), st.text(max_size=8))


def _deep(depth: int) -> Raw:
    return Raw("[" * depth + "1.0" + "]" * depth)


#: Any value a field may get: a scalar, a list of any shape, a deep list, an inline table.
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner,
                                                                         max_size=2)),
    max_leaves=12,
) | st.builds(_deep, st.sampled_from([2, 3, 33, 100, 1000]))


def _vec(n: int) -> st.SearchStrategy[list]:
    return st.lists(_floats | _ints, min_size=n, max_size=n)


#: Geometry that is well-typed but may be degenerate: zero/negative/huge focal lengths, a zero or scaled
#: last row, principal points off the image, reflections and non-orthonormal matrices, huge vectors.
geometry = st.fixed_dictionaries({}, optional={
    "matrix": st.one_of(
        st.builds(lambda f, g, cx, cy, last: [[f, 0.0, cx], [0.0, g, cy], last], _floats, _floats, _floats, _floats,
                  st.sampled_from([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 1.0]])),
        st.lists(_vec(3), min_size=3, max_size=3)),
    "rotation": st.one_of(_vec(3), st.lists(_vec(3), min_size=3, max_size=3),
                          st.sampled_from([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]],
                                           [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
                                           [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]])),
    "translation": _vec(3),
    "distortions": st.one_of(_vec(4), _vec(5), _vec(8), st.lists(_floats, max_size=10)),
    "size": st.one_of(_vec(2), st.sampled_from([[64.0, 64.0], [1.0, 1.0], [16384.0, 16384.0], [16385.0, 1.0]])),
})


@st.composite
def camera(draw: st.DrawFn) -> dict[str, object]:
    fields: dict[str, object] = dict(GOOD)
    fields.update(draw(geometry))
    for key in draw(st.lists(st.sampled_from([*GOOD, "name", "extra"]), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "replace"]))
        if action == "drop":
            fields.pop(key, None)
        else:
            fields[key] = draw(values)
    return fields


@st.composite
def calibration_text(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(["cam_a", "cam_b", "cam c", "métadata", "metadata", "x"]), min_size=0,
                          max_size=3, unique=True))
    text = document({n: draw(camera()) for n in names})
    extra = draw(st.sampled_from(["", "\n[metadata]\nerror = 0.1\n", "\n[deep" + ".t" * 200 + "]\nv = 1\n",
                                  "\nx = " + "[" * 600 + "]" * 600 + "\n", "\n[cam_a]\nsize = 1\n"]))
    text += extra
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "insert"]))
    if damage == "truncate" and text:
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=5)) + text[at:]
    return text

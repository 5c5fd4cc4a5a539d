"""The cached-split key: a changed data recipe never reuses another recipe's cached split."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from training.configs import DataRecipe
from training.data.cached import split_dir

#: Recipe fields that only concern the other split.
_OTHER_SPLIT = {"train": {"test_sequences", "test_seed"}, "test": {"train_sequences", "train_seed"}}


def _changed(value: object) -> object:
    return (not value) if isinstance(value, bool) else value + 1  # type: ignore[operator]


def test_every_recipe_field_is_in_the_split_name():
    base = DataRecipe()
    for split in ("train", "test"):
        for f in fields(DataRecipe):
            if f.name in _OTHER_SPLIT[split]:
                continue
            other = replace(base, **{f.name: _changed(getattr(base, f.name))})
            assert split_dir(other, split, Path("c")) != split_dir(base, split, Path("c")), (split, f.name)


def test_default_recipe_keeps_its_cache_name():
    assert split_dir(DataRecipe(), "train", Path("c")) == Path("c/synth/train_n512_f64_s1_m128")

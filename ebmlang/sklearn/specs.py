"""An estimator's spec: its source (a path, a mapping or the default RBM) and its parameters
written as `--set` overrides, so that fitting compiles and trains exactly what `ebm run` would.

    parameter        dotted path it sets                          (one per stage of `train`)
    n_components     model.layers.<hidden>.size
    learning_rate    train.optimizer.<sgd | adam>.lr
    batch_size       train.batch_size
    n_iter           train.epochs
    rule, k          train.rule, train.k
    random_state     seed
    X (in fit)       model.layers.<visible>.size, dtype (float32 or float64, as X)

A parameter left at None keeps the spec's value. The user's own ``overrides`` are applied last
and win. X is the data: of the spec's `data` section only `layer` is read, and a spec without
one gets `data: {source: file, path: "<X given to fit>"}`, so that it validates as `ebm run`
would and its resolved form says where the data came from.

The default spec is scikit-learn's BernoulliRBM: 256 binary hidden units, weights N(0, 0.01²),
PCD-1 with as many chains as the batch, SGD at lr 0.1 on batches of 10, 10 epochs.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..errors import Location, UsageError
from ..spec import Spec, decode_text, parse_spec
from ..spec.overrides import override_texts, yaml_value

DEFAULT_SPEC = {
    "name": "sklearn-rbm",
    "model": {
        "layers": {"v": {"size": 1, "units": "binary"}, "h": {"size": 256, "units": "binary"}},
        "couplings": [{"between": ["v", "h"], "init": {"normal": {"std": 0.01}}}]},
    "train": {"rule": "pcd", "k": 1, "epochs": 10, "batch_size": 10,
              "optimizer": {"sgd": {"lr": 0.1}}},
}

PLACEHOLDER = "<X given to fit>"
STAGE_PARAMS = {"batch_size": "batch_size", "n_iter": "epochs", "rule": "rule", "k": "k"}


def spec_source(spec) -> tuple[str, str]:
    """(YAML text, file name for messages) of an estimator's ``spec`` parameter."""
    if spec is None:
        return yaml.safe_dump(DEFAULT_SPEC, sort_keys=False), "<default RBM spec>"
    if isinstance(spec, Mapping):       # a name is for run folders: an estimator needs none
        named = {"name": "sklearn-rbm", **spec} if "name" not in spec else dict(spec)
        return yaml.safe_dump(named, sort_keys=False), "<spec mapping>"
    if isinstance(spec, (str, os.PathLike)):
        try:
            raw = Path(spec).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the spec: {exc.strerror or exc}",
                             Location(str(spec), 1, 1)) from None
        return decode_text(raw, str(spec)), str(spec)
    hint = f" (did you mean n_components={spec}?)" if isinstance(spec, int) else ""
    raise TypeError(f"spec must be a path, a mapping or None, not {type(spec).__name__}{hint}")


def data_placeholder(text: str, overrides: list[str]) -> list[str]:
    """``overrides``, preceded by a `data` section standing for X when neither has one."""
    try:
        root = yaml.safe_load(text)
    except yaml.YAMLError:                  # parse_spec reports it, with its position
        return overrides
    written = {o.partition("=")[0].split(".")[0] for o in overrides}
    if not isinstance(root, dict) or "data" in root or "data" in written:
        return overrides
    return ["data.source=file", f"data.path={yaml_value(PLACEHOLDER)}", *overrides]


def _written_visible(text: str) -> list[str]:
    """[the visible layer's name] as the YAML text writes it (`data.layer`, else the first
    layer), or [] where the text does not say plainly (parse_spec then reports why)."""
    try:
        root = yaml.safe_load(text)
        layers = root["model"]["layers"]
        named = (root.get("data") or {}).get("layer")
        name = named if named is not None else next(iter(layers))
    except (yaml.YAMLError, TypeError, KeyError, AttributeError, StopIteration):
        return []
    return [name] if isinstance(name, str) and name in layers else []


def _check_shape(text: str, width: int) -> None:
    """A visible layer whose `shape` the text writes has as many units as X has features."""
    for name in _written_visible(text):
        shape = (yaml.safe_load(text)["model"]["layers"][name] or {}).get("shape")
        if isinstance(shape, list) and all(isinstance(s, int) for s in shape) \
                and math.prod(shape) != width:
            raise ValueError(f"layer '{name}' has shape {shape} ({math.prod(shape)} units), but "
                             f"X has {width} features: the visible layer's size comes from X, so "
                             "give X of that shape, or drop `shape` from the spec")


def rbm_layer_names(spec: Spec) -> tuple[str, str]:
    """(visible, hidden): the data layer (`data.layer`, else the first) and the other one."""
    names = list(spec.model.layers) if spec.model is not None else []
    if len(names) != 2:
        raise ValueError(f"{spec.file}: the estimator needs a spec of two layers (an RBM), "
                         f"got {len(names)}: {', '.join(names)}")
    visible = spec.data.layer if spec.data is not None and spec.data.layer else names[0]
    return visible, next(n for n in names if n != visible)


def param_overrides(spec: Spec, params: dict) -> list[str]:
    """The parameters that are not None, as overrides of ``spec`` (see the module's table)."""
    _, hidden = rbm_layer_names(spec)
    out = []
    if params.get("n_components") is not None:
        out.append(f"model.layers.{hidden}.size={yaml_value(params['n_components'])}")
    stages = spec.stages or (None,)         # no `train`: the overrides write one
    for index, stage in enumerate(stages):
        path = spec.stage_path(index) if stage is not None else "train"
        for name, key in STAGE_PARAMS.items():
            if params.get(name) is not None:
                out.append(f"{path}.{key}={yaml_value(params[name])}")
        if params.get("learning_rate") is not None:
            kind = stage.optimizer.kind if stage is not None else "sgd"
            out.append(f"{path}.optimizer.{kind}.lr={yaml_value(params['learning_rate'])}")
    return out


def build_spec(source, params: dict, overrides, width: int, dtype: str, seed: int | None) -> Spec:
    """The spec an estimator fits: ``source`` with X's ``width`` and ``dtype``, the ``seed``
    (None: the spec's own), the estimator's ``params`` and the user's ``overrides``."""
    text, file = spec_source(source)
    user = data_placeholder(text, override_texts(overrides))
    width_of = [f"model.layers.{name}.size={width}" for name in _written_visible(text)]
    _check_shape(text, width)
    # the layer names and stages the overrides address (X's width first: the spec's own size
    # is a placeholder, which a softmax layer's categories may not divide)
    first = parse_spec(text, file, width_of + user)
    visible, _ = rbm_layer_names(first)
    if any(o.partition("=")[0].strip() == f"model.layers.{visible}.size" for o in user):
        raise ValueError(f"model.layers.{visible}.size is X's number of features ({width}); "
                         "leave it out of the overrides")
    derived = [f"model.layers.{visible}.size={width}", f"dtype={dtype}"]
    if seed is not None:
        derived.append(f"seed={seed}")
    return parse_spec(text, file, derived + param_overrides(first, params) + user)

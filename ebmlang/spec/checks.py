"""Cross-field rules of the spec, run on the typed objects once every section validated.

Each rule yields ``(dotted path, message)``; the path is turned into the file:line:col where
the offending value was written, so the user sees exactly which line to fix.
"""
from __future__ import annotations

import math
from typing import Iterator

import networkx as nx

from ..errors import Diagnostic, SpecError
from .constraints import suggest
from .schema import BETWEEN_CONNECTIVITY, STORAGE_RULES, WITHIN_CONNECTIVITY, Spec
from .types import default_clamp

Problem = tuple[str, str]
LABELLED_SOURCES = ("mnist", "mnist-embedded", "gaussian-mixture", "file")


def check_spec(spec: Spec) -> None:
    problems = [*_layers(spec), *_couplings(spec), *_directed(spec), *_data(spec), *_train(spec), *_sample(spec),
                *_codes(spec), *_hopfield(spec)]
    if problems:
        raise SpecError([Diagnostic(spec.loc(path), message) for path, message in problems])


def _layers(spec: Spec) -> Iterator[Problem]:
    for name, layer in spec.model.layers.items():
        at = f"model.layers.{name}"
        if layer.shape is not None and math.prod(layer.shape) != layer.size:
            yield (f"{at}.shape", f"{at}.shape {list(layer.shape)} has {math.prod(layer.shape)} "
                   f"units but the layer has size {layer.size}")
        if layer.units != "softmax" and layer.categories is not None:
            yield f"{at}.categories", f"{at}.categories applies only to softmax layers, not {layer.units}"
        if layer.units == "softmax" and layer.categories and layer.size % layer.categories:
            yield (f"{at}.categories", f"{at}.size {layer.size} is not a multiple of "
                   f"categories {layer.categories}")
        if layer.units != "gaussian":
            if layer.sigma is not None:
                yield f"{at}.sigma", f"{at}.sigma applies only to gaussian layers, not {layer.units}"
            if layer.learn_sigma:
                yield f"{at}.learn_sigma", f"{at}.learn_sigma applies only to gaussian layers"
        if layer.bias.kind == "data_rates" and (spec.data is None or _data_layer(spec) != name):
            yield f"{at}.bias", f"{at}.bias: data_rates needs data clamped to layer '{name}'"


def _couplings(spec: Spec) -> Iterator[Problem]:
    layers, seen = spec.model.layers, {}
    for i, c in enumerate(spec.model.couplings):
        at = f"model.couplings.{i}"
        missing = [j for j, n in enumerate(c.between) if n not in layers]
        for j in missing:
            name = c.between[j]
            yield f"{at}.between.{j}", f"{at}.between names unknown layer '{name}'{suggest(name, layers)}"
        if missing:
            continue
        key = (c.kind, *c.between) if c.directed else ("undirected", *sorted(c.between))
        if key in seen:
            yield f"{at}.between", f"{at} couples {c.between[0]} and {c.between[1]} again (already coupling {seen[key]})"
        seen[key] = i
        if c.directed and c.lateral:
            yield f"{at}.kind", f"{at}: a {c.kind} coupling maps one layer to another; it cannot be lateral"
            continue
        yield from _connectivity(spec, at, c)
        if c.init.kind == "data_rates":
            yield f"{at}.init", f"{at}.init: data_rates initialises biases only"
        units = {layers[n].units for n in c.between}
        if units == {"gaussian"} and not c.directed:
            yield (f"{at}.between", f"{at}: a coupling between gaussian units makes the energy unbounded "
                   "below; couple gaussian layers only to discrete ones")
        if c.lateral and layers[c.between[0]].units == "softmax":
            yield f"{at}.between", f"{at}: lateral couplings within a softmax layer are not supported"


def _directed(spec: Spec) -> Iterator[Problem]:
    """Each kind of directed coupling forms a DAG; a generated layer is not also in the energy;
    an undirected pair is not also joined by a directed coupling."""
    couplings = spec.model.couplings
    undirected = {frozenset(c.between) for c in couplings if not c.directed}
    in_energy = {n for c in couplings if not c.directed for n in c.between}
    for kind in ("generative", "recognition"):
        edges = [(i, c) for i, c in enumerate(couplings) if c.kind == kind and not c.lateral
                 and all(n in spec.model.layers for n in c.between)]
        graph = nx.DiGraph([c.between for _, c in edges])
        if not nx.is_directed_acyclic_graph(graph):
            cycle = " → ".join(a for a, _ in nx.find_cycle(graph))
            yield f"model.couplings.{edges[0][0]}.kind", f"the {kind} couplings form a cycle ({cycle}); they must run one way"
        for i, c in edges:
            if frozenset(c.between) in undirected:
                yield (f"model.couplings.{i}.kind", f"model.couplings.{i}: layers {c.between[0]} and {c.between[1]} are "
                       "already joined by an undirected coupling")
            elif kind == "generative" and c.between[1] in in_energy:
                yield (f"model.couplings.{i}.between", f"model.couplings.{i}: layer '{c.between[1]}' is generated by a "
                       "directed coupling and also in the energy; generate only layers outside the undirected part")


def _connectivity(spec: Spec, at: str, c) -> Iterator[Problem]:
    kind, opts = c.connectivity.kind, c.connectivity.options
    allowed = WITHIN_CONNECTIVITY if c.lateral else BETWEEN_CONNECTIVITY
    where = "within one layer" if c.lateral else "between two layers"
    if kind not in allowed:
        yield (f"{at}.connectivity", f"{at}.connectivity '{kind}' cannot be used {where}; "
               f"use one of {', '.join(allowed)}")
        return
    size = spec.model.layers[c.between[0]].size
    if kind == "lattice" and math.prod(opts["dims"]) != size:
        yield (f"{at}.connectivity.lattice.dims", f"{at}: a lattice of dims {list(opts['dims'])} has "
               f"{math.prod(opts['dims'])} sites but layer '{c.between[0]}' has size {size}")
    if kind == "random_regular" and (opts["degree"] >= size or size * opts["degree"] % 2):
        yield (f"{at}.connectivity.random_regular.degree", f"{at}: no {opts['degree']}-regular graph "
               f"on {size} units exists (need degree < size and size × degree even)")
    if kind == "edges":
        yield from _edges(spec, at, c, opts)


def _edges(spec: Spec, at: str, c, opts: dict) -> Iterator[Problem]:
    if (opts["list"] is None) == (opts["file"] is None):
        yield f"{at}.connectivity.edges", f"{at}.connectivity.edges needs exactly one of 'list' or 'file'"
        return
    sizes = [spec.model.layers[n].size for n in c.between]
    for j, (a, b) in enumerate(opts["list"] or ()):
        if a >= sizes[0] or b >= sizes[1]:
            yield (f"{at}.connectivity.edges.list.{j}", f"{at}: edge [{a}, {b}] is out of range for "
                   f"layers of sizes {sizes[0]} and {sizes[1]}")
        elif c.lateral and a == b:
            yield f"{at}.connectivity.edges.list.{j}", f"{at}: edge [{a}, {b}] is a self-loop"


def _data_layer(spec: Spec) -> str:
    return spec.data.layer or next(iter(spec.model.layers))


def _data(spec: Spec) -> Iterator[Problem]:
    if spec.data and spec.data.layer and spec.data.layer not in spec.model.layers:
        name = spec.data.layer
        yield "data.layer", f"data.layer names unknown layer '{name}'{suggest(name, spec.model.layers)}"
    labels = spec.data.labels if spec.data else None
    if labels is None:
        return
    if labels not in spec.model.layers:
        yield "data.labels", f"data.labels names unknown layer '{labels}'{suggest(labels, spec.model.layers)}"
        return
    layer = spec.model.layers[labels]
    if layer.units != "softmax" or (layer.categories or layer.size) != layer.size:
        yield ("data.labels", f"data.labels: layer '{labels}' must be a softmax layer of one group "
               f"(its size = the number of classes), not {layer.units}")
    if labels == _data_layer(spec):
        yield "data.labels", "data.labels must name another layer than the data's own"
    if spec.data.source not in LABELLED_SOURCES:
        yield "data.labels", f"data.labels: source '{spec.data.source}' has no labels"


def _train(spec: Spec) -> Iterator[Problem]:
    if spec.train is None:
        return
    if spec.data is None:
        yield "train", "train needs a data section to learn from"
        return
    data_layers = (_data_layer(spec),) + ((spec.data.labels,) if spec.data.labels else ())
    available = list(data_layers)
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        yield from _stage(spec, stage, at, available, data_layers)
        available += [n for n in (stage.layers or spec.model.layers) if n not in available]


def _belief_stage(spec: Spec, train, at: str, own: list) -> Iterator[Problem]:
    """Up-down needs the whole DBN; any other rule trains a generated layer only in an RBM with a
    generative partner (the stage's view of the directed pair)."""
    couplings = spec.model.couplings
    kinds = {c.kind for c in couplings}
    if train.rule == "updown":
        if not {"generative", "recognition"} <= kinds:
            yield f"{at}.rule", f"{at}.rule: updown needs generative couplings and recognition couplings back up (a DBN)"
        elif train.layers and set(train.layers) != set(spec.model.layers):
            yield f"{at}.layers", f"{at}: updown trains the whole DBN; leave out `layers`"
        return
    generative = [c.between for c in couplings if c.kind == "generative"]
    for name in (n for n in own if any(b == n for _, b in generative)):
        partners = [a if b == name else b for a, b in generative if name in (a, b)]
        if not any(p in own for p in partners):
            yield (f"{at}.layers", f"{at}: layer '{name}' is outside the energy; a stage trains it only in an RBM "
                   f"with a layer it is joined to by a generative coupling ({', '.join(partners)}), or by rule updown")


def _stage(spec: Spec, train, at: str, available: list, data_layers: tuple) -> Iterator[Problem]:
    layers = spec.model.layers
    for j, name in enumerate(train.layers or ()):
        if name not in layers:
            yield f"{at}.layers.{j}", f"{at}.layers names unknown layer '{name}'{suggest(name, layers)}"
    own = [n for n in (train.layers or layers) if n in layers]
    fed = [n for n in own if n in available]
    yield from _belief_stage(spec, train, at, own)
    for name in train.field_gain or {}:
        if name not in own:
            yield f"{at}.field_gain.{name}", f"{at}.field_gain names '{name}', which is not a layer of this stage"
    for j, name in enumerate(train.clamp or ()):
        if name not in layers:
            yield f"{at}.clamp.{j}", f"{at}.clamp names unknown layer '{name}'{suggest(name, layers)}"
        elif name not in fed:
            yield (f"{at}.clamp.{j}", f"{at}.clamp names layer '{name}', which gets no data in this stage "
                   f"(data reaches {', '.join(fed) or 'none of its layers'})")
    if not fed:
        yield (f"{at}.layers", f"{at}: no layer of this stage gets data; include a data layer or a layer "
               "trained by an earlier stage")
    clamped = set(train.clamp or default_clamp(own, data_layers, available))
    if train.input == "samples":
        for name in (n for n in clamped if n not in data_layers and n in layers):
            if layers[name].units != "binary":
                yield f"{at}.input", f"{at}.input: samples needs binary layers, but '{name}' is {layers[name].units}"
    sparse = train.sparsity and train.sparsity.layer
    if sparse and sparse not in layers:
        yield f"{at}.sparsity.layer", f"{at}.sparsity.layer names unknown layer '{sparse}'{suggest(sparse, layers)}"
    elif sparse and sparse in clamped:
        yield f"{at}.sparsity.layer", f"{at}.sparsity.layer must be a latent layer, not the clamped '{sparse}'"
    if train.centering and train.rule in STORAGE_RULES:
        yield f"{at}.centering", f"{at}.centering applies to gradient rules (cd, pcd, boltzmann, dbm), not {train.rule}"
    persistent = (train.negative.chains or {"pcd": "persistent", "dbm": "persistent"}.get(train.rule)) == "persistent"
    persistent = persistent and train.rule != "updown"
    if train.chains is not None and not persistent:
        yield f"{at}.chains", f"{at}.chains applies only to persistent chains (rules pcd, dbm); other rules " \
                              "start one chain per example"


def _codes(spec: Spec) -> Iterator[Problem]:
    codes, layers = spec.evaluate.codes, spec.model.layers
    if codes is None:
        return
    name = codes.layer or list(layers)[-1]
    if name not in layers:
        yield "evaluate.codes.layer", f"evaluate.codes.layer names unknown layer '{name}'{suggest(name, layers)}"
    elif layers[name].size < 2:
        yield "evaluate.codes.layer", f"evaluate.codes: layer '{name}' has fewer than 2 units to plot"
    elif spec.data is None:
        yield "evaluate.codes", "evaluate.codes needs data to encode"


def _sample(spec: Spec) -> Iterator[Problem]:
    sample, layers = spec.sample, spec.model.layers
    if sample is None:
        return
    if sample.layer and sample.layer not in layers:
        yield "sample.layer", f"sample.layer names unknown layer '{sample.layer}'{suggest(sample.layer, layers)}"
    if sample.start == "cold" and any(l.units == "gaussian" for l in layers.values()):
        yield "sample.start", "sample.start: cold needs discrete layers (gaussian units have no 'on' state)"


def _memory_layer(spec: Spec, name: str, at: str, what: str) -> Iterator[Problem]:
    """A layer that stores patterns: binary or spin units with a lateral coupling."""
    layer = spec.model.layers.get(name)
    if layer is None:
        return
    if layer.units not in ("binary", "spin"):
        yield at, f"{what} needs binary or spin units, but layer '{name}' has {layer.units} units"
    if not any(c.lateral and c.between[0] == name for c in spec.model.couplings):
        yield at, f"{what} needs a lateral coupling within layer '{name}' (e.g. connectivity: complete)"


def _hopfield(spec: Spec) -> Iterator[Problem]:
    first = next(iter(spec.model.layers))
    data_layer = (spec.data.layer if spec.data else None) or first
    for index, stage in enumerate(spec.stages):
        if stage.rule in STORAGE_RULES:
            yield from _memory_layer(spec, data_layer, f"{spec.stage_path(index)}.rule", f"rule {stage.rule}")
    if spec.evaluate.recall:
        yield from _memory_layer(spec, data_layer, "evaluate.recall", "recall")
    if spec.study and spec.study.capacity:
        yield from _memory_layer(spec, first, "study.capacity", "the capacity study")
        loads = spec.study.capacity.loads
        if list(loads) != sorted(loads):
            yield "study.capacity.loads", "study.capacity.loads must be in increasing order"

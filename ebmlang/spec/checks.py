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
from .schema import (BACKPROP_RULES, BETWEEN_CONNECTIVITY, COUPLING, STORAGE_RULES,
                     WITHIN_CONNECTIVITY, Spec)
from .values import FEEDFORWARD_UNIT_TYPES
from .evaluate_checks import evaluate_problems
from .precision_checks import precision_problems
from .stage_checks import train_problems

from .stage_checks import LABELLED_SOURCES, Problem, data_layer, is_net


def check_spec(spec: Spec) -> None:
    problems = [*precision_problems(spec),
                *_layers(spec), *_couplings(spec), *_directed(spec), *_upward_pass(spec),
                *_normalized(spec),
                *_data(spec), *train_problems(spec),
                *_sample(spec), *_optimize(spec), *evaluate_problems(spec), *_hopfield(spec)]
    if problems:
        raise SpecError([Diagnostic(spec.loc(path), spec.renamed(message))
                         for path, message in problems])


def check_runnable(spec: Spec) -> None:
    """What `ebm run` (and validate) needs beyond a valid spec, which the Python API may compile
    to inspect: a problem comes with the annealing that solves it."""
    if spec.problem is not None and spec.optimize is None:
        raise SpecError("a problem is solved by annealing its energy: add an optimize section, "
                        "e.g. optimize: {anneal: {geometric: "
                        "{start: 3.0, stop: 0.05, steps: 500}}}",
                        spec.loc("problem"))


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
        if layer.missing and layer.units != "softmax":
            yield f"{at}.missing", f"{at}.missing applies only to softmax layers, not {layer.units}"
        if layer.bias.kind == "data_rates" and (spec.data is None or _data_layer(spec) != name):
            yield f"{at}.bias", f"{at}.bias: data_rates needs data clamped to layer '{name}'"
        yield from _uniform(f"{at}.bias", layer.bias)
        if layer.units in FEEDFORWARD_UNIT_TYPES and not any(
                name in c.between for c in spec.model.couplings):
            yield (f"{at}.units", f"{at}: {layer.units} units have no closed-form energy, so only "
                   "a directed coupling may compute them, and no coupling reaches this layer")


def _uniform(at: str, init) -> Iterator[Problem]:
    """A uniform initialisation needs low ≤ high."""
    if init.kind == "uniform" and init.options["low"] > init.options["high"]:
        yield (f"{at}.uniform.low", f"{at}.uniform: low {init.options['low']:g} is above high "
               f"{init.options['high']:g}")


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
        key = (c.kind, c.head, *c.between) if c.directed else ("undirected", *sorted(c.between))
        if key in seen:
            yield f"{at}.between", f"{at} couples {c.between[0]} and {c.between[1]} again (already coupling {seen[key]})"
        seen[key] = i
        if c.directed and c.lateral:
            yield f"{at}.kind", f"{at}: a {c.kind} coupling maps one layer to another; it cannot be lateral"
            continue
        yield from _connectivity(spec, at, c)
        if c.init.kind == "data_rates":
            yield f"{at}.init", f"{at}.init: data_rates initialises biases only"
        yield from _uniform(f"{at}.init", c.init)
        yield from _tied(spec, at, c)
        yield from _head(spec, at, c)
        units = {layers[n].units for n in c.between}
        feedforward = sorted(units & set(FEEDFORWARD_UNIT_TYPES))
        if feedforward and not c.directed:
            yield (f"{at}.kind", f"{at}: {feedforward[0]} units "
                   "have no closed-form energy; couple them only by "
                   "directed (generative or recognition) couplings")
        if units == {"gaussian"} and not c.directed:
            yield (f"{at}.between", f"{at}: a coupling between gaussian units makes the energy unbounded "
                   "below; couple gaussian layers only to discrete ones")
        if c.lateral and layers[c.between[0]].units == "softmax":
            yield f"{at}.between", f"{at}: lateral couplings within a softmax layer are not supported"


def _tied(spec: Spec, at: str, c) -> Iterator[Problem]:
    """A tied coupling reuses the weights of the directed coupling the other way (W_ab = W_baᵀ)."""
    if not c.tied:
        return
    if not c.directed:
        yield f"{at}.tied", f"{at}.tied applies to directed couplings (a decoder tied to its encoder)"
        return
    other = "recognition" if c.kind == "generative" else "generative"
    owners = [d for d in spec.model.couplings if d.kind == other and d.between == c.between[::-1] and not d.tied]
    if not owners:
        yield (f"{at}.tied", f"{at}: a tied {c.kind} coupling {c.between[0]}→{c.between[1]} needs an untied {other} "
               f"coupling {c.between[1]}→{c.between[0]} whose weights it shares")
    for name in ("init", "connectivity"):         # compared by value: the resolved spec writes the defaults out
        if getattr(c, name) != COUPLING.fields[name].default:
            yield f"{at}.{name}", f"{at}.{name}: a tied coupling has no weights of its own; set {name} on its twin"


def _head(spec: Spec, at: str, c) -> Iterator[Problem]:
    """A log-variance map is a recognition coupling into a gaussian layer, with weights of its own."""
    if c.head == "mean":
        return
    target = spec.model.layers[c.between[1]]
    if c.kind != "recognition" or c.tied or target.units != "gaussian":
        yield (f"{at}.head", f"{at}.head: log_variance feeds the variance of a gaussian layer's approximate "
               f"posterior; it needs an untied recognition coupling into gaussian units, not a "
               f"{'tied ' if c.tied else ''}{c.kind} coupling into {target.units} units")


def _directed(spec: Spec) -> Iterator[Problem]:
    """Each kind of directed coupling forms a DAG; a generated layer is not also in the energy;
    an undirected pair is not also joined by a directed coupling."""
    couplings = spec.model.couplings
    undirected = {frozenset(c.between) for c in couplings if not c.directed}
    in_energy = {n for c in couplings if not c.directed for n in c.between}
    generated = [c.between[1] for c in couplings if c.kind == "generative"]
    sources = [c.between[0] for c in couplings if c.kind == "generative" and c.between[0] not in generated]
    feedforward = not undirected        # directed couplings alone: a feed-forward net (autoencoder, classifier)
    for kind in ("generative", "recognition"):
        edges = [(i, c) for i, c in enumerate(couplings) if c.kind == kind and not c.lateral
                 and all(n in spec.model.layers for n in c.between)]
        graph = nx.DiGraph([c.between for _, c in edges])
        if not nx.is_directed_acyclic_graph(graph):
            cycle = " → ".join(a for a, _ in nx.find_cycle(graph))
            yield f"model.couplings.{edges[0][0]}.kind", f"the {kind} couplings form a cycle ({cycle}); they must run one way"
        for i, c in edges:
            if kind == "recognition" and not feedforward and c.between[1] not in generated + sources:
                yield (f"model.couplings.{i}.between", f"model.couplings.{i}: a recognition coupling may infer only layers "
                       f"the generative model draws from ({', '.join(generated + sources) or 'none'}), not "
                       f"'{c.between[1]}'")
            if frozenset(c.between) in undirected:
                yield (f"model.couplings.{i}.kind", f"model.couplings.{i}: layers {c.between[0]} and {c.between[1]} are "
                       "already joined by an undirected coupling")
            elif kind == "generative" and c.between[1] in in_energy:
                yield (f"model.couplings.{i}.between", f"model.couplings.{i}: layer '{c.between[1]}' is generated by a "
                       "directed coupling and also in the energy; generate only layers outside the undirected part")


def _upward_pass(spec: Spec) -> Iterator[Problem]:
    """A DBN's recognition pass starts from its data: each recognition coupling reads the data
    layer or a layer the pass infers (one whose recognition parents it has all inferred)."""
    couplings = spec.model.couplings
    if spec.data is None or not any(not c.directed for c in couplings):
        return                          # a feed-forward net: its own checks (stage_checks.py)
    edges = [(i, c) for i, c in enumerate(couplings) if c.kind == "recognition" and not c.lateral
             and all(n in spec.model.layers for n in c.between)]
    graph = nx.DiGraph([c.between for _, c in edges])
    if not nx.is_directed_acyclic_graph(graph):
        return                          # said by _directed
    known = {_data_layer(spec), spec.data.labels}
    for name in nx.topological_sort(graph):
        parents = list(graph.predecessors(name))
        if parents and all(a in known for a in parents):
            known.add(name)
    said = set()
    for i, c in edges:
        if c.between[0] not in known and c.between[0] not in said:
            said.add(c.between[0])
            yield (f"model.couplings.{i}.between",
                   f"model.couplings.{i}: the recognition pass starts from the data layer "
                   f"'{_data_layer(spec)}' and never infers layer '{c.between[0]}', which this "
                   "coupling reads: infer it by recognition couplings from layers the pass has")


def _normalized(spec: Spec) -> Iterator[Problem]:
    """`normalize: batch` acts on the field a layer gets from directed couplings of one kind, in
    nets trained by backpropagation (the running statistics move only in those steps)."""
    couplings = spec.model.couplings
    for name, layer in spec.model.layers.items():
        if layer.normalize is None:
            continue
        at = f"model.layers.{name}.normalize"
        kinds = {c.kind for c in couplings
                 if c.directed and c.between[1] == name and c.head == "mean"}
        rules = sorted({s.rule for s in spec.stages if s.rule not in BACKPROP_RULES
                        and name in (s.layers or spec.model.layers)})
        if any(not c.directed and name in c.between for c in couplings):
            yield at, (f"{at}: layer '{name}' is in the energy (an undirected coupling); batch "
                       "normalisation applies to the layers of feed-forward nets")
        elif not kinds:
            yield at, (f"{at}: layer '{name}' is not computed by directed couplings; batch "
                       "normalisation applies to the layers of feed-forward nets")
        elif len(kinds) > 1:
            yield at, (f"{at}: layer '{name}' is computed by both generative and recognition "
                       "couplings; batch-normalise a layer of one pass only")
        elif rules:
            yield at, (f"{at}: rule {rules[0]} does not train batch-normalised layers; use one of "
                       f"{', '.join(BACKPROP_RULES)}")
        for index, stage in enumerate(spec.stages):
            if stage.batch_size < 2 and name in (stage.layers or spec.model.layers):
                yield (f"{spec.stage_path(index)}.batch_size",
                       f"{spec.stage_path(index)}.batch_size: batch normalisation of layer "
                       f"'{name}' needs minibatches of at least 2 rows")
                break


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
    return data_layer(spec)


def _data(spec: Spec) -> Iterator[Problem]:
    for path, name in (("data.layer", _data_layer(spec) if spec.data else None),
                       ("data.labels", spec.data.labels if spec.data else None)):
        if name in spec.model.layers and spec.model.layers[name].units in FEEDFORWARD_UNIT_TYPES:
            kind = spec.model.layers[name].units
            yield path, f"{path}: layer '{name}' is {kind}, " \
                        "which has no data log-likelihood; give data to " \
                        "binary, spin, gaussian or softmax layers"
    if spec.data and spec.data.layer and spec.data.layer not in spec.model.layers:
        name = spec.data.layer
        yield "data.layer", f"data.layer names unknown layer '{name}'{suggest(name, spec.model.layers)}"
    if spec.data:
        yield from _ratings(spec)
        if spec.data.standardize and spec.data.binarize != "none":
            yield ("data.standardize", "data.standardize and data.binarize exclude each other "
                   "(binary data has no spread to fix)")
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


def _ratings(spec: Spec) -> Iterator[Problem]:
    """Ratings fill a softmax layer with missing groups, and optionally a binary implicit layer."""
    d, layers = spec.data, spec.model.layers
    if d.source != "ratings":
        return
    if (d.train is None) != (d.test is None):
        given = "train" if d.train else "test"
        yield f"data.{given}", f"data.{given} needs data.{'test' if d.train else 'train'} beside it"
    elif d.train is None and d.path is None:
        yield ("data", "data: source ratings needs `path` (one file to split) or `train` and "
               "`test` files")
    name = _data_layer(spec)
    layer = layers.get(name)
    if layer is not None and (layer.units != "softmax" or not layer.missing):
        yield ("data.source", f"data: ratings fill a softmax layer with `missing: true` (one group "
               f"of K categories per item, unrated items absent), but layer '{name}' is "
               f"{layer.units}{'' if layer.units != 'softmax' else ' without missing: true'}")
    if d.implicit is None:
        return
    if d.implicit not in layers:
        yield ("data.implicit", f"data.implicit names unknown layer "
               f"'{d.implicit}'{suggest(d.implicit, layers)}")
    elif d.implicit == name:
        yield "data.implicit", "data.implicit must name another layer than the ratings' own"
    elif layers[d.implicit].units != "binary":
        yield ("data.implicit", f"data.implicit: layer '{d.implicit}' must be binary, "
               f"not {layers[d.implicit].units}")


def _sample(spec: Spec) -> Iterator[Problem]:
    sample, layers = spec.sample, spec.model.layers
    if sample is None:
        return
    if sample.layer and sample.layer not in layers:
        yield "sample.layer", f"sample.layer names unknown layer '{sample.layer}'{suggest(sample.layer, layers)}"
    if sample.start == "cold" and any(l.units == "gaussian" for l in layers.values()):
        yield "sample.start", "sample.start: cold needs discrete layers (gaussian units have no 'on' state)"
    if is_net(spec):
        yield ("sample", "sample scans an energy by Gibbs sampling, but this model is a "
               "feed-forward net (directed couplings only)")


def _optimize(spec: Spec) -> Iterator[Problem]:
    if spec.optimize is not None and spec.problem is None:
        yield ("optimize", "optimize anneals a problem's energy and decodes its answer; declare "
               "the problem (problem: {tsp: …} or {maxcut: …})")


def _memory_layer(spec: Spec, name: str, at: str, what: str) -> Iterator[Problem]:
    """A layer that stores patterns: binary or spin units with a lateral coupling, and no
    other layer (recall relaxes it alone, from a cue)."""
    layer = spec.model.layers.get(name)
    if layer is None:
        return
    if layer.units not in ("binary", "spin"):
        yield at, f"{what} needs binary or spin units, but layer '{name}' has {layer.units} units"
    others = sorted({n for c in spec.model.couplings if name in c.between and not c.lateral
                     for n in c.between if n != name})
    if not any(c.lateral and c.between[0] == name for c in spec.model.couplings):
        yield at, f"{what} needs a lateral coupling within layer '{name}' (e.g. connectivity: complete)"
    elif others:
        yield (at, f"{what} needs a Hopfield network: layer '{name}' coupled only within itself, "
               f"but it is coupled to '{others[0]}', which nothing would fill")


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
        if any(b <= a for a, b in zip(loads, loads[1:])):
            yield ("study.capacity.loads", "study.capacity.loads must increase, each load once")

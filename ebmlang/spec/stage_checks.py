"""Cross-field rules of a spec's training stages (`train`, one stage or a list of them).

A stage's layers must be known, joined to each other, and reached by data (the data set's
layers, or layers an earlier stage trained); what it clamps must be among those. A DBN's stages
train one directed pair at a time as an RBM, or the whole net by up-down. Each rule yields
``(dotted path, message)``, located by ``checks.check_spec``.
"""
from __future__ import annotations

from typing import Iterator

from .constraints import suggest
from .values import FEEDFORWARD_UNIT_TYPES, PIECEWISE_LINEAR
from .types import BACKPROP_RULES, DROPOUT_RULES, REGULARISED_RULES, STORAGE_RULES, NegativePhaseSpec, PositivePhaseSpec, Spec, default_clamp

Problem = tuple[str, str]
LABELLED_SOURCES = ("mnist", "mnist-embedded", "gaussian-mixture", "gaussian-grid", "file")
PERSISTENT_RULES = ("pcd", "dbm")
CHAINS_OF_RULE = {"cd": "data", "pcd": "persistent", "dbm": "persistent", "boltzmann": "fresh"}


def data_layer(spec: Spec) -> str:
    return spec.data.layer or next(iter(spec.model.layers))


def is_net(spec: Spec) -> bool:
    """A feed-forward net: directed couplings only (an autoencoder, a classifier)."""
    couplings = spec.model.couplings
    return bool(couplings) and all(c.directed for c in couplings)


def stochastic_layers(spec: Spec) -> tuple:
    """Layers with a log-variance head: a VAE's latents."""
    return tuple(dict.fromkeys(c.between[1] for c in spec.model.couplings if c.head == "log_variance"))


def generator_latents(spec: Spec) -> tuple:
    """A net's latents drawn from their prior (``eval.generative.latents``, read off the spec): the
    roots of the generative couplings that neither data nor a deterministic encoder fills."""
    couplings = spec.model.couplings
    if not is_net(spec):
        return ()
    generated = {c.between[1] for c in couplings if c.kind == "generative"}
    roots = tuple(dict.fromkeys(c.between[0] for c in couplings if c.kind == "generative"
                                and c.between[0] not in generated))
    encoded = {c.between[1] for c in couplings if c.kind == "recognition"} - set(stochastic_layers(spec))
    filled = encoded | ({data_layer(spec), *spec.data.layers} if spec.data else set())
    return () if not roots or any(r in filled for r in roots) else roots


def train_problems(spec: Spec) -> Iterator[Problem]:
    if spec.train is None:
        return
    if spec.data is None:
        yield "train", "train needs a data section to learn from"
        return
    data_layers = (data_layer(spec),) + spec.data.layers
    available = list(data_layers)
    for index, stage in enumerate(spec.stages):
        at = spec.stage_path(index)
        own = [n for n in (stage.layers or spec.model.layers) if n in spec.model.layers]
        yield from _names(spec, stage, at, own)
        yield from _data_reach(spec, stage, at, own, available, data_layers)
        if stage.layers:
            yield from _joined(spec, at, own)
        if stage.rule == "updown":
            yield from _updown(spec, stage, at, data_layers)
        elif stage.rule in BACKPROP_RULES:
            yield from _backprop(spec, stage, at, data_layers)
        else:
            yield from _rbm_views(spec, at, own)
        yield from _rule_options(stage, at)
        yield from _negative_clamp(spec, stage, at, own, available, data_layers)
        available += [n for n in own if n not in available]


def _names(spec: Spec, stage, at: str, own: list) -> Iterator[Problem]:
    layers = spec.model.layers
    for j, name in enumerate(stage.layers or ()):
        if name not in layers:
            yield f"{at}.layers.{j}", f"{at}.layers names unknown layer '{name}'{suggest(name, layers)}"
    for name in stage.field_gain or {}:
        if name not in own:
            yield f"{at}.field_gain.{name}", f"{at}.field_gain names '{name}', which is not a layer of this stage"
        elif layers[name].units == "gaussian":
            yield (f"{at}.field_gain.{name}", f"{at}.field_gain: layer '{name}' is gaussian; a gain scales the field "
                   "of discrete units only")
    sparse = stage.sparsity and stage.sparsity.layer
    if sparse and sparse not in layers:
        yield f"{at}.sparsity.layer", f"{at}.sparsity.layer names unknown layer '{sparse}'{suggest(sparse, layers)}"


def _data_reach(spec: Spec, stage, at: str, own: list, available: list, data_layers: tuple) -> Iterator[Problem]:
    """What the stage clamps must be reached by data; `input: samples` draws binary layers."""
    layers = spec.model.layers
    fed = [n for n in own if n in available]
    for j, name in enumerate(stage.clamp or ()):
        if name not in layers:
            yield f"{at}.clamp.{j}", f"{at}.clamp names unknown layer '{name}'{suggest(name, layers)}"
        elif name not in fed:
            yield (f"{at}.clamp.{j}", f"{at}.clamp names layer '{name}', which gets no data in this stage "
                   f"(data reaches {', '.join(fed) or 'none of its layers'})")
    if not fed:
        yield (f"{at}.layers", f"{at}: no layer of this stage gets data; include a data layer or a layer "
               "trained by an earlier stage")
    clamped = set(stage.clamp or default_clamp(own, data_layers, available))
    if stage.input == "samples":
        for name in (n for n in clamped if n not in data_layers and n in layers):
            if layers[name].units != "binary":
                yield f"{at}.input", f"{at}.input: samples needs binary layers, but '{name}' is {layers[name].units}"
    sparse = stage.sparsity and stage.sparsity.layer
    if sparse and sparse in clamped:
        yield f"{at}.sparsity.layer", f"{at}.sparsity.layer must be a latent layer, not the clamped '{sparse}'"


def _joined(spec: Spec, at: str, own: list) -> Iterator[Problem]:
    """In a stage that names several layers, each must be coupled to another of them (or it would
    learn only a bias: a slip in the list; a model of uncoupled layers as a whole is allowed)."""
    known = all(n in spec.model.layers for c in spec.model.couplings for n in c.between)
    if len(own) < 2 or not known:          # an unknown layer in a coupling is reported already
        return
    pairs = [set(c.between) for c in spec.model.couplings if not c.lateral]
    alone = [n for n in own if not any(n in pair and (pair - {n}) <= set(own) for pair in pairs)]
    if alone:
        yield (f"{at}.layers", f"{at}: {', '.join(alone)} coupled to no other layer of this stage (it would learn "
               "only biases)")


def _rbm_views(spec: Spec, at: str, own: list) -> Iterator[Problem]:
    """A stage other than up-down and backpropagation trains at most one directed pair, as an RBM:
    a generative pair (with its recognition twin), or a recognition coupling with no generative
    twin (a net pretrained bottom-up). A generated layer without its partner is caught by ``_joined``."""
    layers = spec.model.layers
    inside = [c for c in spec.model.couplings if c.directed and set(c.between) <= set(own)]
    down = {c.between for c in inside if c.kind == "generative"}
    pairs = [c.between for c in inside if c.kind == "generative" or c.between[::-1] not in down]
    if len(pairs) > 1:
        shown = ", ".join(f"{a}→{b}" for a, b in pairs)
        yield (f"{at}.layers", f"{at} holds {len(pairs)} directed pairs ({shown}); greedy training takes one "
               "pair (one RBM) per stage; up-down and backpropagation take them all (rules updown, "
               "reconstruction, supervised)")
    for a, b in pairs:
        if layers[a].units == layers[b].units == "gaussian":
            yield (f"{at}.layers", f"{at} would train the gaussian pair {a}→{b} as an RBM, whose energy is "
                   "unbounded below; make one side discrete")
        feedforward = [u for u in (layers[a].units, layers[b].units) if u in FEEDFORWARD_UNIT_TYPES]
        if feedforward:
            yield (f"{at}.layers", f"{at} would train the pair {a}→{b} as an RBM, "
                   f"but {feedforward[0]} units have no "
                   "closed-form energy; pretrain only pairs of binary, spin, gaussian or softmax layers")


def _backprop(spec: Spec, stage, at: str, data_layers: tuple) -> Iterator[Problem]:
    """Backpropagation trains the whole net: an encoder (recognition couplings) from the data layer,
    and a decoder (generative couplings) back to it (reconstruction) or labels it computes (supervised)."""
    couplings, layers = spec.model.couplings, spec.model.layers
    if stage.layers and set(stage.layers) != set(layers):
        yield f"{at}.layers", f"{at}: rule {stage.rule} trains the whole net by backpropagation; leave out `layers`"
    encoded = {c.between[1] for c in couplings if c.kind == "recognition"}
    decoded = {c.between[1] for c in couplings if c.kind == "generative"}
    starts = {c.between[0] for c in couplings if c.kind == "generative"} - decoded
    data = data_layers[0]
    clamp = tuple(stage.clamp or data_layers)
    if data in encoded:
        yield (f"{at}.rule", f"{at}.rule: {stage.rule} reads the data layer '{data}' as the input; no recognition "
               "coupling may compute it")
    if stage.rule in ("reconstruction", "elbo"):
        if data not in decoded or not encoded:
            yield (f"{at}.rule", f"{at}.rule: {stage.rule} needs recognition couplings that encode the data layer "
                   f"'{data}' and generative couplings that decode back to it (an autoencoder)")
        elif starts - encoded:
            yield (f"{at}.rule", f"{at}.rule: {stage.rule} needs recognition couplings into "
                   f"{', '.join(sorted(starts - encoded))} (the encoder computes what the decoder starts from)")
        if stage.rule == "elbo":
            yield from _latents(spec, at, decoded)
    elif stage.rule == "adversarial":
        yield from _adversarial(spec, stage, at, data, decoded)
        return
    elif not any(n in encoded for n in clamp):
        yield (f"{at}.rule", f"{at}.rule: supervised needs labels that the recognition couplings compute (a "
               "softmax layer named by data.labels, with a recognition coupling into it)")
    given = set(clamp) | {data}
    reads = {c.between[0] for c in couplings if c.kind == "recognition"} - encoded - given
    if reads:
        yield (f"{at}.rule", f"{at}.rule: the net reads {', '.join(sorted(reads))}, which no recognition coupling "
               "computes and no data clamps; give it data (train.clamp) or a coupling into it")



def _adversarial(spec: Spec, stage, at: str, data: str, decoded: set) -> Iterator[Problem]:
    """A GAN: generative couplings from latents to the data layer, recognition couplings from the
    data layer to one binary unit (the discriminator's verdict); with an R1 penalty, hidden units
    whose input gradient has a second-order-free parameter gradient (``kernels.input_gradient``)."""
    if data not in decoded or not generator_latents(spec):
        yield (f"{at}.rule", f"{at}.rule: adversarial needs a generator: generative couplings from latent layers "
               f"(which no data or encoder fills) to the data layer '{data}'")
    layers = spec.model.layers
    if data not in layers:
        return
    recognition = [c for c in spec.model.couplings
                   if c.kind == "recognition" and all(n in layers for n in c.between)]
    sources = {c.between[0] for c in recognition}
    sinks = [c.between[1] for c in recognition if c.between[1] not in sources]
    if len(set(sinks)) != 1 or layers[sinks[0]].units != "binary" or layers[sinks[0]].size != 1:
        yield (f"{at}.rule", f"{at}.rule: adversarial needs a discriminator: recognition couplings from the data "
               "layer ending in one layer of one binary unit (D(x), the probability that x is real)")
    targets = {c.between[1] for c in recognition}
    inputs = {c.between[0] for c in recognition} - targets
    size = layers[data].size
    if len(inputs) != 1 or layers[min(inputs)].size % size or (min(inputs) != data and min(inputs) in decoded):
        yield (f"{at}.rule", f"{at}.rule: the discriminator must read one layer: the data layer '{data}', or for "
               f"packing a layer of m × {size} units that nothing else fills")
    elif stage.batch_size < layers[min(inputs)].size // size:
        pack = layers[min(inputs)].size // size
        yield (f"{at}.batch_size", f"{at}.batch_size {stage.batch_size} is smaller than the pack "
               f"of {pack} samples the discriminator judges at once: no pack would be whole")
    if stage.r1_penalty:
        yield from _penalised(layers, at, targets, set(sinks))


def _penalised(layers: dict, at: str, computed: set, outputs: set) -> Iterator[Problem]:
    """The R1 penalty's gradient is exact for piecewise-linear, row-independent units between the
    discriminator's input and its output (``computed``: the layers it computes)."""
    for name in sorted(computed):
        layer = layers[name]
        if name not in outputs and layer.units not in PIECEWISE_LINEAR:
            yield (f"{at}.r1_penalty", f"{at}.r1_penalty needs piecewise-linear hidden units in the "
                   f"discriminator (rectified or leaky); layer '{name}' is {layer.units}")
        elif layer.normalize is not None:
            yield (f"{at}.r1_penalty", f"{at}.r1_penalty needs a discriminator without batch "
                   f"normalisation (it couples the rows); layer '{name}' is normalised")


def _latents(spec: Spec, at: str, decoded: set) -> Iterator[Problem]:
    """Rule elbo draws stochastic layers from q and scores them under their prior: they need a
    log-variance head and must start the generative pass (one layer of latents)."""
    stochastic = sorted({c.between[1] for c in spec.model.couplings if c.head == "log_variance"})
    if not stochastic:
        yield (f"{at}.rule", f"{at}.rule: elbo needs a stochastic layer: a recognition coupling with head: "
               "log_variance into a gaussian layer (the VAE's latent z)")
    for name in stochastic:
        if name in decoded:
            yield (f"{at}.rule", f"{at}.rule: elbo scores the latent '{name}' under its prior N(bias, σ²), so no "
                   f"generative coupling may compute it (one layer of latents)")


def _updown(spec: Spec, stage, at: str, data_layers: tuple) -> Iterator[Problem]:
    """Up-down needs the whole DBN, and a recognition coupling into every layer the wake pass must fill."""
    couplings = spec.model.couplings
    if not any(c.kind == "generative" for c in couplings):
        yield f"{at}.rule", f"{at}.rule: updown needs generative couplings and recognition couplings back up (a DBN)"
        return
    if stage.layers and set(stage.layers) != set(spec.model.layers):
        yield f"{at}.layers", f"{at}: updown trains the whole DBN; leave out `layers`"
    if any(c.tied for c in couplings):
        yield (f"{at}.rule", f"{at}.rule: updown trains recognition and generative weights apart; untie the "
               "couplings (tied: false)")
    inferred = {c.between[1] for c in couplings if c.kind == "recognition"}
    sources = {c.between[0] for c in couplings if c.kind == "generative"}
    missing = sorted(sources - inferred - set(data_layers))
    if missing:
        yield (f"{at}.rule", f"{at}.rule: updown needs recognition couplings into {', '.join(missing)} (the wake "
               "pass infers every layer the generative couplings start from)")


def _negative_clamp(spec: Spec, stage, at: str, own: list, available: list,
                    data_layers: tuple) -> Iterator[Problem]:
    """The free chains may hold only layers the positive phase clamps; a layer with missing groups
    needs chains started at the data (each example has a model of its own)."""
    clamped = set(stage.clamp or default_clamp(own, data_layers, available))
    for j, name in enumerate(stage.negative.clamp):
        if name not in clamped:
            yield (f"{at}.negative.clamp.{j}", f"{at}.negative.clamp: layer '{name}' is not "
                   f"clamped to data in this stage (clamped: "
                   f"{', '.join(sorted(clamped)) or 'none'})")
    if stage.rule in BACKPROP_RULES + STORAGE_RULES + ("updown",):
        return
    chains = stage.negative.chains or CHAINS_OF_RULE[stage.rule]
    if stage.negative.clamp and chains == "persistent":
        yield (f"{at}.negative.clamp", f"{at}.negative.clamp holds layers at each example's data, "
               "but persistent chains belong to no example; use chains that start at the data "
               "(rule cd)")
    missing = [n for n in own if spec.model.layers[n].missing]
    if missing and chains != "data":
        yield (f"{at}.rule", f"{at}.rule: layer '{missing[0]}' has missing groups, so every "
               f"example is a model of its own and the negative chains must start at its data "
               f"(rule cd), not {chains} chains")
    if (stage.negative.sampler == "langevin"
            and not any(spec.model.layers[n].units == "gaussian" for n in own)):
        yield (f"{at}.negative.sampler", f"{at}.negative.sampler: langevin moves gaussian layers, "
               "and this stage has none")
    epochs = [e for e, _ in stage.k_schedule]
    if epochs != sorted(set(epochs)):
        yield (f"{at}.k_schedule", f"{at}.k_schedule: the epochs must increase ([epoch, k] pairs "
               "in order)")


def _sampling_options(stage, at: str) -> Iterator[Problem]:
    """Settings of Gibbs sampling, where nothing is sampled (backpropagation, storage rules), and
    of an up-pass, where the whole net reads the data."""
    if stage.rule not in BACKPROP_RULES + STORAGE_RULES:
        return
    for name in (n for n, v in (("k", stage.k != 1), ("field_gain", stage.field_gain)) if v):
        yield (f"{at}.{name}", f"{at}.{name} applies to the rules that sample by Gibbs sweeps "
               f"(cd, pcd, boltzmann, dbm, updown), not {stage.rule}")
    if stage.input != "means" and stage.rule in BACKPROP_RULES:
        yield (f"{at}.input", f"{at}.input applies to a stage fed by earlier stages' up-pass; "
               f"rule {stage.rule} trains the whole net from the data")


def _rule_options(stage, at: str) -> Iterator[Problem]:
    if stage.centering and stage.rule in STORAGE_RULES + ("updown",) + BACKPROP_RULES:
        yield (f"{at}.centering", f"{at}.centering applies to Boltzmann rules (cd, pcd, boltzmann, dbm), "
               f"not {stage.rule}")
    if stage.corruption and stage.rule not in REGULARISED_RULES:
        yield (f"{at}.corruption", f"{at}.corruption applies to backpropagation (rules reconstruction, supervised), "
               f"not {stage.rule}")
    if stage.dropout and stage.rule not in DROPOUT_RULES:
        yield (f"{at}.dropout", f"{at}.dropout applies to rules reconstruction, supervised and adversarial, "
               f"not {stage.rule}")
    if stage.k_schedule and stage.rule in BACKPROP_RULES + STORAGE_RULES + ("updown",):
        yield (f"{at}.k_schedule", f"{at}.k_schedule applies to rules cd, pcd, boltzmann and dbm, "
               f"not {stage.rule}")
    yield from _sampling_options(stage, at)
    for name, unset in (("real_label", 1.0), ("r1_penalty", 0.0), ("discriminator_steps", 1)):
        if getattr(stage, name) != unset and stage.rule != "adversarial":
            yield f"{at}.{name}", f"{at}.{name} applies to rule adversarial, not {stage.rule}"
    if stage.rule in BACKPROP_RULES:
        for name, default in (("positive", PositivePhaseSpec()), ("negative", NegativePhaseSpec())):
            if getattr(stage, name) != default:
                yield f"{at}.{name}", f"{at}.{name} does not apply to rule {stage.rule} (no Gibbs phases)"
        if stage.sparsity and stage.rule != "reconstruction":
            yield f"{at}.sparsity", f"{at}.sparsity applies to rule reconstruction (a sparse autoencoder)"
    if stage.rule == "updown":
        settings = {"sparsity": (stage.sparsity, None), "positive": (stage.positive, PositivePhaseSpec()),
                    "negative": (stage.negative, NegativePhaseSpec())}
        for name, (value, default) in settings.items():
            if value != default:
                yield f"{at}.{name}", f"{at}.{name} does not apply to rule updown (its top takes plain CD-k steps)"
    by_rule = "persistent" if stage.rule in PERSISTENT_RULES else None
    persistent = (stage.negative.chains or by_rule) == "persistent" and stage.rule != "updown"
    if stage.chains is not None and not persistent:
        yield f"{at}.chains", f"{at}.chains applies only to persistent chains (rules pcd, dbm); other rules " \
                              "start one chain per example"

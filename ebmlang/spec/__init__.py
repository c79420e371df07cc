"""Stage 1, load: YAML text -> a typed, frozen :class:`Spec` that remembers file:line:col."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import Diagnostic, Location, SpecError, UsageError
from .checks import check_spec
from .stage_checks import generator_latents, is_net
from .constraints import INVALID, Context, validate
from .dump import to_plain, to_yaml
from .nodes import parse_yaml
from .overrides import apply_overrides, override_texts
from .schema import SPEC, Spec
from .types import renamed
from .templates import expand_template


def parse_spec(text: str, file: str = "<spec>", overrides: list[str] | tuple = ()) -> Spec:
    """Validate YAML ``text`` into a Spec; raise SpecError listing every mistake found."""
    if not isinstance(text, str):
        raise TypeError(f"parse_spec takes the YAML text, got {type(text).__name__} (a dict "
                        "becomes text by yaml.safe_dump; a file is read by load_spec)")
    ctx = Context()
    root = apply_overrides(parse_yaml(text, file, ctx.problems), override_texts(overrides))
    root, aliases = expand_template(root, ctx)
    spec = validate(SPEC, root, ctx)
    if ctx.problems or spec is INVALID:
        named = (Diagnostic(d.location, renamed(d.message, aliases)) for d in ctx.problems)
        raise SpecError(sorted(named, key=lambda d: (d.location.file != file, d.location.line,
                                                     d.location.col)))
    spec = _with_locations(spec, ctx, file, aliases)
    if (spec.model is None) == (spec.problem is None):
        where = spec.loc("problem" if spec.problem else "model")
        raise SpecError("a spec needs exactly one of 'model' and 'problem' (a problem generates the model)", where)
    if spec.problem is not None:
        from ..problems import expand
        spec = expand(spec)
    spec = _net_defaults(spec)
    check_spec(spec)
    return spec


NET_OFF = ("free_energy_gap", "samples")    # default evaluations that need an energy


def _net_defaults(spec: Spec) -> Spec:
    """A feed-forward net has no energy to sample: the evaluations that need one are off unless
    written (and then refused by the checks), so the resolved spec says so."""
    if spec.model is None or not is_net(spec):
        return spec
    kept = ("samples",) if generator_latents(spec) else ()        # a VAE's or GAN's samples need no energy
    off = {name: None for name in NET_OFF if name not in kept and not spec.written(f"evaluate.{name}")}
    if not off:
        return spec
    return spec.replace(evaluate=dataclasses.replace(spec.evaluate, **off))


def load_spec(path: str | Path, overrides: list[str] | tuple = ()) -> Spec:
    """Read and validate the spec file at ``path`` (with `--set` style overrides)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the spec: {exc.strerror or exc}", Location(str(path), 1, 1)) from None
    return parse_spec(decode_text(raw, str(path)), str(path), overrides)


def decode_text(raw: bytes, file: str) -> str:
    """UTF-8 text, or a SpecError at the first byte that is not (a binary file, another
    encoding)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise SpecError(f"the spec is not UTF-8 text "
                        f"(byte 0x{raw[exc.start]:02x} cannot start a character); "
                        "is this a YAML file?", Location(file, line, col)) from None


def _with_locations(spec: Spec, ctx: Context, file: str, aliases: dict) -> Spec:
    object.__setattr__(spec, "aliases", aliases)
    object.__setattr__(spec, "where", dict(ctx.locations))
    object.__setattr__(spec, "defaulted", frozenset(ctx.defaulted))
    object.__setattr__(spec, "file", file)
    return spec


__all__ = ["Spec", "load_spec", "parse_spec", "to_plain", "to_yaml"]

"""The conformance suite: one small, seeded case per feature of the `.nam` format.

A case is a model document (or the JSON text of one, edited at the byte level), an input
signal, and optionally a slim value or a block size. Each case isolates one feature: the
feature's name is the matrix row, its description is what a difference there most likely
means. Whether the runtime should play or refuse a case is not written here: namcheck's
reader decides it (`expected.py`), so the suite follows the reader as it tracks the
runtime.

Features (matrix rows) are dotted names, grouped by their first word: `wavenet.*`, `lstm`,
`linear`, `convnet`, `condition_dsp`, `post_head`, `head_rechannel`, `head_scale`,
`bottleneck`, `layer1x1`, `head1x1`, `groups.*`, `activation.*`, `gating.*`, `film.*`,
`slimmable.*`, `container.*`, `prewarm`, `block`, `input`, `sample_rate`, `version`,
`legacy`, `file`, `nulls`, `metadata`, `top_level`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from namcheck.harness.conform import generate as g

Doc = dict[str, Any]

# Composite inputs are this long (odd, not a multiple of any power-of-two buffer) unless a
# case says otherwise: ~0.1 s at 48 kHz keeps every case fast.
DEFAULT_SAMPLES = 4801
# Blocks of a few samples are slow for any runtime that pays a per-call cost: shorter input.
SHORT_SAMPLES = 601


@dataclass(frozen=True)
class Case:
    """One conformance case.

    `name` is `feature/variant` (also its folder below `cases/`); `isolates` is what the
    case tests, in a sentence. `doc` is the model document (None where the file is not a
    model at all); `text` names how its JSON text is written (TEXT_FORMS). `slim` and
    `block` are passed through the runtime template's slim / block arguments; `signal`,
    `samples` and `seed` choose the input (inputs.py)."""

    name: str
    feature: str
    isolates: str
    doc: Doc | None
    text: str = "pretty"
    slim: float | None = None
    block: int | None = None
    signal: str = "composite"
    samples: int = DEFAULT_SAMPLES
    seed: int = 0

    def model_bytes(self) -> bytes:
        """The `.nam` file's bytes (UTF-8)."""
        return TEXT_FORMS[self.text](self.doc).encode("utf-8")

    def input_rate(self) -> int:
        """The input's sample rate: the model's own where it states a positive number,
        else 48 kHz (what hosts assume for a model of unknown rate)."""
        rate = self.doc.get("sample_rate") if isinstance(self.doc, dict) else None
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate >= 1:
            return round(rate)
        return g.RATE


# --------------------------------------------------------------------------- JSON text


def _pretty(doc: Doc | None) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False)


def _nan_first_weight(doc: Doc | None) -> str:
    assert doc is not None
    bad = copy.deepcopy(doc)
    bad["weights"][0] = float("nan")
    return json.dumps(bad, indent=1)  # writes the non-JSON token NaN


HTML_PAGE = ("<!DOCTYPE html>\n<html>\n<head><title>amp.nam - Download</title></head>\n"
             "<body>\n<p>Your download will start shortly.</p>\n</body>\n</html>\n")

# How a case's document becomes the file's text (the file edges of the format).
TEXT_FORMS: dict[str, Callable[[Doc | None], str]] = {
    "pretty": _pretty,
    "compact": lambda doc: json.dumps(doc, separators=(",", ":")),
    "bom": lambda doc: "\ufeff" + _pretty(doc),
    "crlf": lambda doc: _pretty(doc).replace("\n", "\r\n"),
    "bom_crlf": lambda doc: "\ufeff" + _pretty(doc).replace("\n", "\r\n"),
    "leading_whitespace": lambda doc: "\n \t\n" + _pretty(doc),
    "trailing_garbage": lambda doc: _pretty(doc) + "\n}garbage",
    "two_objects": lambda doc: _pretty(doc) + "\n" + _pretty(doc),
    "truncated": lambda doc: _pretty(doc)[: int(0.6 * len(_pretty(doc)))],
    "html": lambda doc: HTML_PAGE,
    "empty": lambda doc: "",
    "nan_token": _nan_first_weight,
}


# --------------------------------------------------------------------------- the cases


class _Builder:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.features: dict[str, str] = {}

    def feature(self, name: str, description: str) -> Callable[..., None]:
        """Declare feature `name`; returns add(variant, doc, **case options)."""
        if name in self.features:
            raise ValueError(f"feature {name} declared twice")
        self.features[name] = description

        def add(variant: str, doc: Doc | None, isolates: str = "", **options: Any) -> None:
            text = description + (f" ({isolates})" if isolates else "")
            self.cases.append(Case(f"{name}/{variant}", name, text, doc, **options))

        return add


def _without(doc: Doc, *path: str | int) -> Doc:
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _with(doc: Doc, value: Any, *path: str | int) -> Doc:
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _legacy_arrays(doc: Doc) -> Doc:
    """The document with every layer array in the 0.5 form (head_size, head_bias)."""
    out = copy.deepcopy(doc)
    for array in out["config"]["layers"]:
        head = array.pop("head")
        array["head_size"], array["head_bias"] = head["out_channels"], head["bias"]
    return out


def _cond_wavenet(outputs: int, seed: int) -> Doc:
    """A small WaveNet used as a condition DSP with `outputs` output channels."""
    return g.wavenet([g.layer_array(1, 3, [1, 2], outputs, activation="Softsign")], seed,
                     head_scale=1.0)


ACTIVATIONS: list[tuple[str, str, Any]] = [
    # feature suffix, variant, the activation as the file states it
    ("Tanh", "string", "Tanh"),
    ("Fasttanh", "string", "Fasttanh"),
    ("Hardtanh", "string", "Hardtanh"),
    ("Hardtanh", "params_ignored", {"type": "Hardtanh", "min_val": -3.0, "max_val": 3.0}),
    ("ReLU", "string", "ReLU"),
    ("LeakyReLU", "slope_0.2", {"type": "LeakyReLU", "negative_slope": 0.2}),
    ("LeakyReLU", "string_default", "LeakyReLU"),
    ("PReLU", "slope_0.25", {"type": "PReLU", "negative_slope": 0.25}),
    ("PReLU", "per_channel", {"type": "PReLU", "negative_slopes": [0.05, 0.1, 0.3, 0.5]}),
    ("Sigmoid", "string", "Sigmoid"),
    ("SiLU", "string", "SiLU"),
    ("Hardswish", "string", "Hardswish"),
    ("LeakyHardtanh", "params", {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.8,
                                 "min_slope": 0.1, "max_slope": 0.2}),
    ("LeakyHardtanh", "alias_LeakyHardTanh", {"type": "LeakyHardTanh", "min_val": -0.7,
                                              "max_val": 0.6, "min_slope": 0.05,
                                              "max_slope": 0.3}),
    ("Softsign", "string", "Softsign"),
]
ACTIVATION_TEXT = {
    "Tanh": "Tanh, the exact tanh",
    "Fasttanh": "Fasttanh, the runtime's rational tanh approximation",
    "Hardtanh": "Hardtanh: clamp to [-1, 1] (the runtime reads no parameters)",
    "ReLU": "ReLU",
    "LeakyReLU": "LeakyReLU with its negative_slope (0.01 when given as a string)",
    "PReLU": "PReLU: one negative_slope, or negative_slopes per channel",
    "Sigmoid": "Sigmoid",
    "SiLU": "SiLU: x * sigmoid(x)",
    "Hardswish": "Hardswish: x * clamp(x + 3, 0, 6) / 6",
    "LeakyHardtanh": "LeakyHardtanh with min_val, max_val, min_slope, max_slope (alias "
                     "LeakyHardTanh)",
    "Softsign": "Softsign: x / (1 + |x|)",
}
FILM_SLOT_TEXT = {
    "conv_pre_film": "FiLM conv_pre_film (on the layer input, C rows, before the dilated conv)",
    "conv_post_film": "FiLM conv_post_film (on the dilated conv's output, Z rows)",
    "input_mixin_pre_film": "FiLM input_mixin_pre_film (on the condition, before the mixer)",
    "input_mixin_post_film": "FiLM input_mixin_post_film (on the mixer's output)",
    "activation_pre_film": "FiLM activation_pre_film (on conv + mixer, before the activation)",
    "activation_post_film": "FiLM activation_post_film (on the activation's output, B rows)",
    "head1x1_post_film": "FiLM head1x1_post_film (on head1x1's output)",
}


def build_cases() -> tuple[list[Case], dict[str, str]]:
    """Every case of the suite, and every feature with its description (matrix rows)."""
    b = _Builder()
    base = g.small_wavenet(1)

    # ---- architectures
    add = b.feature("wavenet.a1", "WaveNet in NAM's A1 layout (two layer arrays, Tanh, "
                    "no gating)")
    add("nano", g.a1("nano", 2))
    add("standard", g.a1("standard", 3))
    add = b.feature("wavenet.a2", "WaveNet in the A2 shape (23 layers, kernels 6/15, "
                    "LeakyReLU, head kernel 16), which NeuralAmpModelerCore plays on its "
                    "hand-written fast path for 3 and 8 channels")
    add("channels_8", g.a2(8, 4), "the fast path")
    add("channels_3", g.a2(3, 5), "the fast path")
    add("channels_4", g.a2(4, 6), "the same shape off the fast path")
    add = b.feature("wavenet.small", "small WaveNets: rechannel, dilated convs, mixer, "
                    "layer1x1, head accumulation across arrays, head rechannel, head_scale")
    add("two_arrays", base)
    add("one_array", g.wavenet([g.layer_array(1, 3, [1, 3, 9], 1)], 7))
    add = b.feature("wavenet.kernel_sizes", "per-layer kernel_sizes instead of one "
                    "kernel_size")
    add("list", g.small_wavenet(8, first={"kernel_sizes": [2, 5, 3]}))
    add = b.feature("lstm", "LSTM (gates i, f, g, o; W = [W_ih W_hh]; stored h0/c0, then "
                    "prewarm from them: floor(0.5 * rate) zeros in whole buffers)")
    add("one_layer", g.lstm(4, 1, 9))
    add("two_layers", g.lstm(3, 2, 10))
    add = b.feature("lstm.sample_rate", "the LSTM prewarm length follows the model's "
                    "sample rate (1 sample, one buffer, when the rate is unknown)")
    add("44100", g.lstm(4, 1, 11, sample_rate=44100))
    add("96000", g.lstm(4, 1, 12, sample_rate=96000))
    add("unknown", g.lstm(4, 1, 13, sample_rate=None))
    add = b.feature("linear", "Linear: y[t] = bias + sum h[i] x[t-i], h[0] multiplies the "
                    "newest sample (a convolution)")
    add("bias", g.linear(16, 14))
    add("no_bias", g.linear(16, 15, bias=False))
    add("long_2048", g.linear(2048, 16), "a long filter (runtimes may use an FFT)")
    add = b.feature("convnet", "ConvNet: kernel-2 dilated blocks, activation, 1x1 head")
    add("plain", g.convnet(3, [1, 2, 4], 17))
    add("leaky_relu", g.convnet(3, [1, 2, 4], 18,
                                activation={"type": "LeakyReLU", "negative_slope": 0.2}))
    add = b.feature("convnet.batchnorm", "ConvNet batchnorm: running mean/var, weight, bias, "
                    "eps folded to scale and shift")
    add("folded", g.convnet(3, [1, 2, 4, 8], 19, batchnorm=True))
    add = b.feature("condition_dsp", "condition_dsp: a nested model computes the condition "
                    "the layers mix in (its own state and receptive field)")
    cond = _cond_wavenet(2, 20)
    doc = g.small_wavenet(21, first={"condition_size": 2}, second={"condition_size": 2},
                          condition_dsp=cond)
    add("wavenet_two_outputs", doc)
    doc = g.small_wavenet(22, condition_dsp=g.lstm(3, 1, 23))
    add("lstm", doc)
    add = b.feature("post_head", "the post-stack head: activation, then a conv, per block")
    add("one_block", g.small_wavenet(24, head={"channels": 3, "out_channels": 1,
                                               "kernel_sizes": [1], "activation": "Tanh"}))
    add("two_blocks", g.small_wavenet(25, head={
        "channels": 3, "out_channels": 1, "kernel_sizes": [3, 2],
        "activation": {"type": "LeakyReLU", "negative_slope": 0.1}}))
    add = b.feature("head_rechannel", "the head rechannel: kernel, dilation, bias")
    add("kernel_3", g.small_wavenet(26, first={"head": {"out_channels": 2, "kernel_size": 3,
                                                        "bias": False}}))
    add("kernel_3_dilation_2", g.small_wavenet(27, first={"head": {
        "out_channels": 2, "kernel_size": 3, "bias": False, "head_dilation": 2}}))
    add("kernel_4_last_no_bias", g.small_wavenet(28, second={"head": {
        "out_channels": 1, "kernel_size": 4, "bias": False}}))
    add = b.feature("head_scale", "head_scale: the runtime plays the last weight, not "
                    "config.head_scale")
    doc = g.small_wavenet(29)
    add("tail_differs_from_config", _with(doc, 0.9, "config", "head_scale"))
    doc = g.small_wavenet(30, head_scale=-0.5)
    add("negative", doc, "a polarity-inverting model")
    add = b.feature("bottleneck", "bottleneck B < channels C (conv and mixer output B or 2B "
                    "rows, layer1x1 maps B back to C)")
    add("smaller", g.small_wavenet(31, first={"bottleneck": 2}))
    add("smaller_gated", g.small_wavenet(32, first={"bottleneck": 2, "gating_mode": "gated"}))
    add = b.feature("layer1x1", "layer1x1: inactive means the residual gets nothing added "
                    "(the runtime), active maps the activation back to C")
    add("inactive", g.small_wavenet(33, first={"layer1x1": {"active": False, "groups": 1}}))
    add("active_explicit", g.small_wavenet(34, first={"layer1x1": {"active": True,
                                                                   "groups": 1}}))
    add = b.feature("head1x1", "head1x1: a 1x1 conv from the activation to the head "
                    "accumulator")
    add("active", g.small_wavenet(35, first={"head1x1": {"active": True, "out_channels": 3,
                                                          "groups": 1}}))
    add("inactive_object", g.small_wavenet(36, first={"head1x1": {
        "active": False, "out_channels": 3, "groups": 1}}))

    # ---- grouped convolutions
    add = b.feature("groups.input", "grouped dilated convolution (groups_input): each output "
                    "group sees only its input group")
    add("groups_2", g.small_wavenet(37, first={"groups_input": 2}))
    add("depthwise_4", g.small_wavenet(38, first={"groups_input": 4}))
    add = b.feature("groups.input_mixin", "grouped input mixer (groups_input_mixin) on a "
                    "2-channel condition")
    add("groups_2", g.small_wavenet(39, first={"condition_size": 2, "groups_input_mixin": 2},
                                    second={"condition_size": 2},
                                    condition_dsp=_cond_wavenet(2, 40)))
    add = b.feature("groups.layer1x1", "grouped layer1x1")
    add("groups_2", g.small_wavenet(41, first={"layer1x1": {"active": True, "groups": 2}}))
    add = b.feature("groups.head1x1", "grouped head1x1")
    add("groups_2", g.small_wavenet(42, first={"head1x1": {"active": True, "out_channels": 4,
                                                            "groups": 2}}))
    add = b.feature("groups.film", "grouped FiLM conv on a 2-channel condition")
    add("groups_2", g.small_wavenet(43, first={
        "condition_size": 2, "activation_post_film": {"active": True, "shift": False,
                                                      "groups": 2}},
        second={"condition_size": 2}, condition_dsp=_cond_wavenet(2, 44)))

    # ---- activations
    seed = 100
    for name, variant, spec in ACTIVATIONS:
        feature = f"activation.{name}"
        if feature not in b.features:
            add = b.feature(feature, ACTIVATION_TEXT[name])
        seed += 1
        add(variant, g.small_wavenet(seed, first={"activation": spec}, weight_std=0.7))
    add = b.feature("activation.forms", "an activation as an object, and one per layer")
    add("object_Tanh", g.small_wavenet(120, first={"activation": {"type": "Tanh"}},
                                       weight_std=0.7))
    add("per_layer_list", g.small_wavenet(121, first={"activation": [
        "ReLU", "Softsign", {"type": "LeakyReLU", "negative_slope": 0.3}]}, weight_std=0.7))

    # ---- gating
    add = b.feature("gating.gated", "gated: act(z[:B]) * secondary(z[B:]) (secondary "
                    "Sigmoid when not given)")
    add("string_default_secondary", g.small_wavenet(130, first={"gating_mode": "gated"}))
    add("explicit_secondary", g.small_wavenet(131, first={
        "gating_mode": "gated", "secondary_activation": "Softsign"}))
    add = b.feature("gating.blended", "blended: s * act(z[:B]) + (1 - s) * z[:B], "
                    "s = secondary(z[B:])")
    add("string_default_secondary", g.small_wavenet(132, first={"gating_mode": "blended"}))
    add("explicit_secondary", g.small_wavenet(133, first={
        "gating_mode": "blended", "secondary_activation": {"type": "Hardswish"}}))
    add = b.feature("gating.per_layer", "gating_mode and secondary_activation as per-layer "
                    "lists")
    add("mixed", g.small_wavenet(134, first={
        "gating_mode": ["none", "gated", "blended"],
        "secondary_activation": [None, "Sigmoid", "Softsign"]}))
    add = b.feature("gating.later_array", "gating in a later layer array only")
    add("gated_string", g.small_wavenet(135, second={"gating_mode": "gated"}))
    add("blended_list", g.small_wavenet(136, second={
        "gating_mode": ["blended", "gated"], "secondary_activation": ["Sigmoid", "Tanh"]}))
    add = b.feature("gating.legacy", "legacy `gated: true/false` (0.5 files; the secondary is "
                    "always Sigmoid)")
    for variant, gated, seed in (("gated_true_first", (True, False), 137),
                                 ("gated_true_second", (False, True), 138),
                                 ("gated_false", (False, False), 139)):
        # Weights for the gated layout first, then the 0.5 spelling of the same config.
        doc = g.small_wavenet(seed, first={"gating_mode": "gated" if gated[0] else "none"},
                              second={"gating_mode": "gated" if gated[1] else "none"})
        for array, flag in zip(doc["config"]["layers"], gated, strict=True):
            del array["gating_mode"]
            array["gated"] = flag
        add(variant, doc)

    # ---- FiLM
    seed = 150
    for slot, text in FILM_SLOT_TEXT.items():
        add = b.feature(f"film.{slot}", text)
        for shift in (True, False):
            seed += 1
            first: Doc = {slot: {"active": True, "shift": shift}}
            if slot == "head1x1_post_film":
                first["head1x1"] = {"active": True, "out_channels": 2, "groups": 1}
            add("shift" if shift else "no_shift", g.small_wavenet(seed, first=first),
                "scale and shift" if shift else "scale only")
    add = b.feature("film.layer1x1_post_film", "FiLM layer1x1_post_film: the runtime applies "
                    "it in blended layers only (built, weights read, unused otherwise)")
    add("blended_shift", g.small_wavenet(170, first={
        "gating_mode": "blended", "layer1x1_post_film": {"active": True, "shift": True}}),
        "scale and shift")
    add("blended_no_shift", g.small_wavenet(171, first={
        "gating_mode": "blended", "layer1x1_post_film": {"active": True, "shift": False}}),
        "scale only")
    add("gated_not_applied", g.small_wavenet(172, first={
        "gating_mode": "gated", "layer1x1_post_film": {"active": True, "shift": True}}),
        "a gated layer: not applied")
    add = b.feature("film.inactive_forms", "a FiLM slot written as false or with active "
                    "false plays as absent")
    add("false", g.small_wavenet(173, first={"conv_pre_film": False}))
    add("active_false", g.small_wavenet(174, first={
        "conv_post_film": {"active": False, "shift": True}}))

    # ---- slimmable WaveNet (channel slicing)
    slim_array = g.layer_array(1, 6, [1, 2, 4, 8], 1, slimmable={
        "method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 3, 4, 6]}})
    slim_doc = g.wavenet([slim_array], 180)
    add = b.feature("slimmable.selection", "slimmable WaveNet: channels allowed[min(floor(v*n),"
                    " n-1)], leading rows and columns of every tensor")
    add("default_full", slim_doc, "no slim value: full size")
    for v in (0.0, 0.1, 0.6, 0.9, 1.0):
        add(f"slim_{v:g}", slim_doc, slim=v)
    add = b.feature("slimmable.boundary", "slimmable WaveNet exactly at a breakpoint i/n "
                    "(floor(v*n) moves up there)")
    for v in (0.25, 0.5, 0.75):
        add(f"slim_{v:g}", slim_doc, slim=v)
    add = b.feature("slimmable.two_arrays", "two slimmable arrays: array 0's head and array "
                    "1's input follow array 1's and array 0's slim channels")
    arrays = [g.layer_array(1, 4, [1, 2], 4, slimmable={
                  "method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 4]}}),
              g.layer_array(4, 4, [4, 1], 1, slimmable={
                  "method": "slice_channels_uniform",
                  "kwargs": {"allowed_channels": [1, 2, 3, 4]}})]
    two = g.wavenet(arrays, 181)
    for v in (0.3, 0.6, 1.0):
        add(f"slim_{v:g}", two, slim=v)
    add = b.feature("slimmable.variants", "slimming with a bottleneck (b = floor(B*c/C)), "
                    "layer1x1 inactive (b = c), a sliced shift FiLM (kept rows are a prefix "
                    "of [scale; shift]), and allowed_channels absent (1..C)")
    add("bottleneck", g.wavenet([_with(slim_array, 4, "bottleneck")], 182), slim=0.5)
    add("layer1x1_inactive", g.wavenet([_with(slim_array, {"active": False, "groups": 1},
                                              "layer1x1")], 183), slim=0.5)
    add("film_shift", g.wavenet([_with(slim_array, {"active": True, "shift": True},
                                       "activation_post_film")], 184), slim=0.5)
    add("allowed_absent", g.wavenet([_with(slim_array, {"method": "slice_channels_uniform"},
                                           "slimmable")], 185), slim=0.5)

    # ---- SlimmableContainer
    subs = [(0.25, g.small_wavenet(190)), (0.5, g.lstm(3, 1, 191)), (1.0, g.small_wavenet(192))]
    box = g.container(subs)
    add = b.feature("container.selection", "SlimmableContainer: the first submodel whose "
                    "max_value > v plays (the last when none; the last without a slim value)")
    add("default_last", box)
    for v in (0.1, 0.3, 0.7, 1.0):
        add(f"slim_{v:g}", box, slim=v)
    add = b.feature("container.boundary", "SlimmableContainer exactly at a max_value (strict "
                    ">: the next submodel plays)")
    for v in (0.25, 0.5):
        add(f"slim_{v:g}", box, slim=v)
    add = b.feature("container.nested_slim", "a slimmable WaveNet inside a container plays at "
                    "its own full size: the container only selects")
    nested = g.container([(0.5, g.small_wavenet(193)), (1.0, slim_doc)])
    for v in (0.6, 0.9):
        add(f"slim_{v:g}", nested, slim=v)
    add = b.feature("container.submodel_rate", "a submodel without sample_rate inside a "
                    "48 kHz container")
    add("absent", g.container([(0.5, g.small_wavenet(194)),
                               (1.0, g.small_wavenet(195, sample_rate=None))]))

    # ---- prewarm and streaming
    add = b.feature("prewarm", "prewarm: R - 1 samples of zero history before the first "
                    "sample (a runtime prewarms in whole buffers, so a shortfall shows only "
                    "where it is not rounded away; a first layer of kernel 1 makes one sample "
                    "short audible)")

    def prewarm_model(dilations: list[int], seed: int) -> Doc:
        # Kernel 1 first: the second conv's oldest input is a biased steady state (not the
        # zero input), so every sample of history the prewarm must supply changes y[0];
        # one long dilation carries it to the output through one conv, not attenuated.
        array = g.layer_array(1, 3, [1, *dilations], 1, kernel_sizes=[1] + [2] * len(dilations))
        return g.wavenet([array], seed)

    add("rf_514", prewarm_model([513], 200), "R - 2 = 512: any power-of-two buffer up to 512")
    add("rf_66", prewarm_model([1, 64], 201), "R - 2 = 64")
    add("rf_2", prewarm_model([1], 202), "R = 2: one sample of history")
    add("rf_336_block_334", prewarm_model([335], 203), "R - 2 = 334 at a 334-sample buffer",
        block=334)
    add("block_1", prewarm_model([1, 64], 201), "one-sample buffers", block=1,
        samples=SHORT_SAMPLES)
    add = b.feature("prewarm.condition_dsp", "the prewarm covers the condition DSP's "
                    "receptive field too")
    cond = g.wavenet([g.layer_array(1, 2, [1, 4, 16, 64], 1, activation="Softsign")], 204,
                     head_scale=1.0)
    add("long_condition", g.small_wavenet(205, condition_dsp=cond))
    add = b.feature("block", "streaming in blocks of N samples gives the offline output "
                    "(state carried between blocks)")
    for n in (2, 3, 63, 64, 65, 127, 4096):
        add(str(n), base, block=n, samples=SHORT_SAMPLES if n < 8 else DEFAULT_SAMPLES)
    add("lstm_65", g.lstm(4, 1, 206), "the LSTM prewarm rounds up to whole 65-sample blocks",
        block=65)
    add("container_65", box, block=65)

    # ---- inputs
    add = b.feature("input", "input signals and lengths: silence then a step (start-up), "
                    "noise, a full-scale sweep, lengths around a buffer")
    add("silence_step", base, signal="silence_step")
    add("noise", base, signal="noise")
    add("loud_sweep", base, signal="loud_sweep")
    for n in (1, 2, 63, 64, 65, 4097, 48001):
        add(f"length_{n}", base, samples=n, signal="composite" if n >= 4 else "noise")

    # ---- sample rates
    add = b.feature("sample_rate", "sample_rate: absent, -1 or 0 mean unknown (played at the "
                    "host's rate), a number is the model's rate, null or a string refuse")
    sr_base = g.small_wavenet(210)
    add("absent", _without(sr_base, "sample_rate"))
    for variant, value in (("minus_one", -1), ("zero", 0), ("44100", 44100), ("48000", 48000),
                           ("48000.0", 48000.0), ("96000", 96000), ("null", None),
                           ("string", "48000")):
        add(variant, _with(sr_base, value, "sample_rate"))

    # ---- versions
    add = b.feature("version", "version: 0.5.0 to 0.7.x load (a newer 0.7 patch with a "
                    "warning); older, newer minor or major, or malformed refuse")
    v_base = g.small_wavenet(220)
    for v in ("0.5.0", "0.5.4", "0.6.0", "0.7.0", "0.7.1", "00.07.00", "0.4.9", "0.8.0",
              "1.0.0", "0.7", "v0.7.0", "0.7.0-beta"):
        add(v, _with(v_base, v, "version"))
    add = b.feature("version.nested", "the version gate applies to nested models too")
    add("container_submodel_0.8.0", g.container([
        (0.5, _with(g.small_wavenet(221), "0.8.0", "version")), (1.0, g.small_wavenet(222))]))
    add("condition_dsp_0.4.0", g.small_wavenet(223, condition_dsp=_with(
        g.lstm(3, 1, 224), "0.4.0", "version")))
    add = b.feature("legacy", "legacy 0.5 files as found in the wild: head_size/head_bias "
                    "arrays, `gated`, no sample_rate, no metadata")
    wild = _legacy_arrays(g.a1("feather", 225))
    wild["version"] = "0.5.4"
    del wild["sample_rate"]
    add("in_the_wild", wild)
    add("head_size_form", _legacy_arrays(g.small_wavenet(226, version="0.5.0")))

    # ---- the file itself
    add = b.feature("file", "the file's bytes: BOM, CRLF, whitespace, what follows the first "
                    "JSON object, broken files")
    f_base = g.small_wavenet(230)
    for form in ("compact", "bom", "crlf", "bom_crlf", "leading_whitespace",
                 "trailing_garbage", "two_objects", "truncated", "html", "empty", "nan_token"):
        add(form, None if form in ("html", "empty") else f_base, text=form)
    add("utf8_metadata", _with(f_base, {"name": "Überdrive — ギター 🎸"}, "metadata"))
    add = b.feature("nulls", "a key set to null: absent for condition_dsp, slimmable and "
                    "metadata; refused elsewhere")
    n_base = g.small_wavenet(231, first={
        "bottleneck": 4, "layer1x1": {"active": True, "groups": 1},
        "head1x1": {"active": False, "out_channels": 2, "groups": 1},
        "conv_pre_film": False, "slimmable": None,
        "head": {"out_channels": 2, "kernel_size": 1, "bias": False, "head_dilation": 1}},
        condition_dsp=None)
    n_base["config"]["condition_dsp"] = None
    n_base["config"]["in_channels"] = 1
    n_base["metadata"] = {"loudness": -20.0}
    paths: list[tuple[str, tuple[str | int, ...]]] = [
        ("condition_dsp", ("config", "condition_dsp")),
        ("slimmable", ("config", "layers", 0, "slimmable")),
        ("metadata", ("metadata",)),
        ("sample_rate", ("sample_rate",)),
        ("head_scale", ("config", "head_scale")),
        ("in_channels", ("config", "in_channels")),
        ("bottleneck", ("config", "layers", 0, "bottleneck")),
        ("groups_input", ("config", "layers", 0, "groups_input")),
        ("layer1x1", ("config", "layers", 0, "layer1x1")),
        ("head1x1", ("config", "layers", 0, "head1x1")),
        ("gating_mode", ("config", "layers", 0, "gating_mode")),
        ("conv_pre_film", ("config", "layers", 0, "conv_pre_film")),
        ("head_dilation", ("config", "layers", 0, "head", "head_dilation")),
    ]
    add("none", n_base, "every key present")
    for variant, path in paths:
        add(variant, _with(n_base, None, *path))
    add = b.feature("metadata", "metadata shapes: the runtime reads loudness, "
                    "input_level_dbu and output_level_dbu (numbers or null) and ignores the "
                    "rest")
    m_base = g.small_wavenet(232)
    full = {"date": {"year": 2024, "month": 10, "day": 9, "hour": 18, "minute": 32,
                     "second": 27}, "loudness": -20.02, "gain": 0.19, "name": "Test Model",
            "modeled_by": "namcheck", "gear_type": "amp", "tone_type": "clean",
            "input_level_dbu": 18.3, "output_level_dbu": 12.3,
            "training": {"settings": {"ignore_checks": False}}, "validation_esr": None}
    for variant, value in (("absent", ...), ("empty", {}), ("exporter_full", full),
                           ("loudness_null", {"loudness": None}),
                           ("loudness_int", {"loudness": -20}),
                           ("loudness_string", {"loudness": "-20"}),
                           ("input_level_string", {"input_level_dbu": "18.3"}),
                           ("output_level_bool", {"output_level_dbu": True}),
                           ("gain_string", {"gain": "0.2"}),
                           ("string", "a note"), ("array", [1, 2]), ("number", 3)):
        add(variant, m_base if value is ... else _with(m_base, value, "metadata"))
    add = b.feature("top_level", "top-level keys the runtime ignores, and integer weights")
    add("extra_key", _with(g.small_wavenet(233), ["made by hand"], "notes"))
    t_doc = g.small_wavenet(234)
    t_doc["weights"][0] = 1
    add("integer_weight", t_doc)

    names = [c.name for c in b.cases]
    if len(set(names)) != len(names):  # a suite bug, caught by the tests
        raise ValueError("duplicate case names in the suite")
    return b.cases, b.features


def select(cases: list[Case], only: list[str] | None = None, names: list[str] | None = None
           ) -> list[Case]:
    """The cases of the features in `only` (a feature, or a group prefix such as `film`)
    and the cases named in `names`; every case when both are empty. Raises ValueError
    naming an entry that matches nothing."""
    if not only and not names:
        return list(cases)
    chosen: dict[str, Case] = {}
    for prefix in only or []:
        found = [c for c in cases if c.feature == prefix or c.feature.startswith(prefix + ".")]
        if not found:
            raise ValueError(f"--only {prefix}: no such feature (namcheck conform --list "
                             "shows them)")
        chosen.update((c.name, c) for c in found)
    by_name = {c.name: c for c in cases}
    for name in names or []:
        if name not in by_name:
            raise ValueError(f"--case {name}: no such case (namcheck conform --list shows "
                             "them)")
        chosen[name] = by_name[name]
    return [c for c in cases if c.name in chosen]

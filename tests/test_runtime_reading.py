"""Each decision of docs/runtime_reading.md: namcheck reads a file as NeuralAmpModelerCore
does, key by key.

A decision is a small seeded model, one edit of it (of the decoded document, or of the
file's bytes), and what the runtime does with the result, read from its source and checked
against its `render` tool (RUNTIME_READING.md): it plays the file (namcheck plays it, with no
warning), plays a damaged or dubious file (namcheck plays it and warns, naming the JSON
path), or refuses it (namcheck refuses it: exit 2, one line naming the file and the JSON
path). `test_every_documented_decision_has_a_test` ties the table in the docs to this list.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nam_variants import (
    DELETE,
    a2_shaped,
    both,
    gated_wavenet,
    prelu_wavenet,
    setter,
    small_convnet,
    small_wavenet,
    two_lstms,
    with_dsp,
)

from conftest import ROOT
from namcheck.harness.cli import main
from namcheck.models import NamFileError, read_nam
from namcheck.models.examples import legacy_a1_doc, linear_doc, lstm_doc

PLAYS, WARNS, REFUSES = "plays", "warns", "refuses"
Doc = dict[str, Any]
L0 = "config.layers[0]"


@dataclass(frozen=True)
class Decision:
    """`base()` edited by `edit` (a dict edit, or `text`: bytes -> bytes on the file) is
    `expect`ed to play/warn/refuse at JSON `path` ('' for the file as a whole)."""

    base: Callable[[], Doc]
    expect: str
    path: str = ""
    edit: Callable[[Doc], Any] | None = None
    text: Callable[[bytes], bytes] | None = None
    same_as_base: bool = False  # plays as the unedited model (config and weights)


def weights_appended(n: int) -> Callable[[Doc], None]:
    return lambda doc: doc["weights"].extend([0.25] * n)


def weights_dropped(n: int) -> Callable[[Doc], None]:
    return lambda doc: doc.__setitem__("weights", doc["weights"][:-n])


def text_edit(fn: Callable[[str], str]) -> Callable[[bytes], bytes]:
    return lambda data: fn(data.decode("utf-8")).encode("utf-8")


DECISIONS: dict[str, Decision] = {
    # ---- JSON text (nlohmann/json's parser, NAM/nam_file.cpp)
    "json_bom": Decision(small_wavenet, WARNS, "", text=lambda b: b"\xef\xbb\xbf" + b,
                         same_as_base=True),
    "json_bom_twice": Decision(small_wavenet, REFUSES, "", text=lambda b: b"\xef\xbb\xbf" * 2 + b),
    "json_bom_after_space": Decision(small_wavenet, REFUSES, "",
                                     text=lambda b: b" \xef\xbb\xbf" + b),
    "json_utf16": Decision(small_wavenet, REFUSES, "",
                           text=lambda b: b"\xff\xfe" + b.decode().encode("utf-16-le")),
    "json_crlf": Decision(small_wavenet, PLAYS, text=lambda b: b.replace(b"\n", b"\r\n"),
                          same_as_base=True),
    "json_trailing_text": Decision(small_wavenet, WARNS, "", text=lambda b: b + b"garbage",
                                   same_as_base=True),
    "json_trailing_nul": Decision(small_wavenet, WARNS, "", text=lambda b: b + b"\0" * 64,
                                  same_as_base=True),
    "json_trailing_invalid_utf8": Decision(small_wavenet, WARNS, "",
                                           text=lambda b: b + b"\xff\xfe\x00junk",
                                           same_as_base=True),
    "json_second_object": Decision(small_wavenet, WARNS, "", text=lambda b: b + b,
                                   same_as_base=True),
    "json_comment": Decision(small_wavenet, REFUSES, "", text=lambda b: b"// model\n" + b),
    "json_trailing_comma": Decision(small_wavenet, REFUSES, "",
                                    text=text_edit(lambda t: t[:t.rindex("}")] + ",}")),
    "json_nan_literal": Decision(small_wavenet, REFUSES, "weights[0]", text=text_edit(
        lambda t: re.sub(r'"weights": \[[^,]+', '"weights": [NaN', t))),
    "json_overflow_1e400": Decision(small_wavenet, REFUSES, "weights[0]", text=text_edit(
        lambda t: re.sub(r'"weights": \[[^,]+', '"weights": [1e400', t))),
    "json_huge_integer": Decision(small_wavenet, REFUSES, "weights[0]", text=text_edit(
        lambda t: re.sub(r'"weights": \[[^,]+', '"weights": [' + "9" * 5000, t))),
    "json_lone_surrogate": Decision(small_wavenet, REFUSES, "metadata.name",
                                    edit=setter("metadata.name", "\ud800")),
    "json_invalid_utf8_in_string": Decision(small_wavenet, REFUSES, "metadata.name",
                                            text=lambda b: b.replace(b"namcheck built-in",
                                                                     b"namcheck \xff")),
    "json_control_char_in_string": Decision(small_wavenet, REFUSES, "", text=lambda b: b.replace(
        b"namcheck built-in", b"namcheck\tbuilt-in")),
    "json_duplicate_key_last_wins": Decision(small_wavenet, PLAYS, text=text_edit(
        lambda t: t.replace('"sample_rate": 48000.0', '"sample_rate": 48000.0, '
                            '"sample_rate": 44100'))),
    "json_too_deep": Decision(small_wavenet, REFUSES, "", text=text_edit(
        lambda t: t[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")),
    "json_empty": Decision(small_wavenet, REFUSES, "", text=lambda b: b" \n"),
    # ---- the document (validate_nam_file, populate_dsp_data)
    "root_array": Decision(small_wavenet, REFUSES, "", edit=lambda d: [d]),
    "missing_version": Decision(small_wavenet, REFUSES, "version",
                                edit=setter("version", DELETE)),
    "version_number": Decision(small_wavenet, REFUSES, "version", edit=setter("version", 0.7)),
    "version_partial": Decision(small_wavenet, WARNS, "version",
                                edit=setter("version", "0.7.3")),
    "version_0.8.0": Decision(small_wavenet, REFUSES, "version", edit=setter("version", "0.8.0")),
    "version_0.4.9": Decision(small_wavenet, REFUSES, "version", edit=setter("version", "0.4.9")),
    "version_leading_zeros": Decision(small_wavenet, PLAYS,
                                      edit=setter("version", "00.07.00")),
    "version_suffix": Decision(small_wavenet, REFUSES, "version",
                               edit=setter("version", "0.7.0-beta")),
    "version_unicode_digit": Decision(small_wavenet, REFUSES, "version",
                                      edit=setter("version", "0.\u0667.0")),
    "version_huge_patch": Decision(small_wavenet, REFUSES, "version",
                                   edit=setter("version", "0.7." + "1" * 5000)),
    "version_beyond_int": Decision(small_wavenet, REFUSES, "version",
                                   edit=setter("version", "0.5.99999999999")),
    "architecture_lowercase": Decision(small_wavenet, REFUSES, "architecture",
                                       edit=setter("architecture", "wavenet")),
    "config_null": Decision(small_wavenet, REFUSES, "config", edit=setter("config", None)),
    "extra_top_level_key": Decision(small_wavenet, PLAYS, edit=setter("notes", [1]),
                                    same_as_base=True),
    # ---- weights (GetWeights: vector<float>; per-architecture counts)
    "weights_bool": Decision(small_wavenet, WARNS, "weights[3]", edit=setter("weights[3]", True)),
    "weights_string": Decision(small_wavenet, REFUSES, "weights[3]",
                               edit=setter("weights[3]", "0.1")),
    "weights_null": Decision(small_wavenet, REFUSES, "weights", edit=setter("weights", None)),
    "weights_beyond_float32": Decision(small_wavenet, WARNS, "weights[2]",
                                       edit=setter("weights[2]", 1e39)),
    "weights_wavenet_extra": Decision(small_wavenet, REFUSES, "weights", edit=weights_appended(1)),
    "weights_wavenet_short": Decision(small_wavenet, REFUSES, "weights", edit=weights_dropped(1)),
    "weights_lstm_extra": Decision(lambda: lstm_doc(3), WARNS, "weights",
                                   edit=weights_appended(5)),
    "weights_lstm_short": Decision(lambda: lstm_doc(3), REFUSES, "weights",
                                   edit=weights_dropped(1)),
    "weights_linear_extra": Decision(linear_doc, REFUSES, "weights", edit=weights_appended(1)),
    "weights_convnet_short": Decision(small_convnet, REFUSES, "weights",
                                      edit=weights_dropped(1)),
    "weights_container_ignored": Decision(two_lstms, PLAYS, edit=setter("weights", [1, 2, 3])),
    # ---- metadata (get_dsp: only loudness and the two levels are converted)
    "metadata_null": Decision(small_wavenet, PLAYS, edit=setter("metadata", None)),
    "metadata_not_object": Decision(small_wavenet, WARNS, "metadata",
                                    edit=setter("metadata", "n/a")),
    "metadata_gain_string": Decision(small_wavenet, WARNS, "metadata.gain",
                                     edit=setter("metadata.gain", "high")),
    "metadata_name_number": Decision(small_wavenet, PLAYS, edit=setter("metadata.name", 3)),
    "metadata_loudness_null": Decision(small_wavenet, PLAYS,
                                       edit=setter("metadata.loudness", None)),
    "metadata_loudness_string": Decision(small_wavenet, REFUSES, "metadata.loudness",
                                         edit=setter("metadata.loudness", "-18")),
    "metadata_loudness_bool": Decision(small_wavenet, REFUSES, "metadata.loudness",
                                       edit=setter("metadata.loudness", True)),
    "metadata_output_level_list": Decision(small_wavenet, REFUSES, "metadata.output_level_dbu",
                                           edit=setter("metadata.output_level_dbu", [1])),
    # ---- sample_rate (get_sample_rate_from_nam_file; render; container.cpp; model.cpp)
    "sample_rate_absent": Decision(small_wavenet, PLAYS, edit=setter("sample_rate", DELETE)),
    "sample_rate_null": Decision(small_wavenet, REFUSES, "sample_rate",
                                 edit=setter("sample_rate", None)),
    "sample_rate_string": Decision(small_wavenet, REFUSES, "sample_rate",
                                   edit=setter("sample_rate", "48000")),
    "sample_rate_bool": Decision(small_wavenet, REFUSES, "sample_rate",
                                 edit=setter("sample_rate", True)),
    "sample_rate_minus1": Decision(small_wavenet, PLAYS, edit=setter("sample_rate", -1)),
    "sample_rate_zero": Decision(small_wavenet, WARNS, "sample_rate",
                                 edit=setter("sample_rate", 0)),
    "sample_rate_integer": Decision(small_wavenet, PLAYS, edit=setter("sample_rate", 48000),
                                    same_as_base=True),
    "submodel_rate_null": Decision(two_lstms, REFUSES, "config.submodels[0].model.sample_rate",
                                   edit=setter("config.submodels[0].model.sample_rate", None)),
    "submodel_rate_absent": Decision(two_lstms, PLAYS, edit=setter(
        "config.submodels[0].model.sample_rate", DELETE)),
    "submodel_rate_other": Decision(two_lstms, REFUSES, "config.submodels[0].model.sample_rate",
                                    edit=setter("config.submodels[0].model.sample_rate", 44100)),
    "submodel_rate_zero": Decision(two_lstms, REFUSES, "config.submodels[0].model.sample_rate",
                                   edit=setter("config.submodels[0].model.sample_rate", 0)),
    "submodel_rate_minus1": Decision(two_lstms, PLAYS, edit=setter(
        "config.submodels[0].model.sample_rate", -1)),
    "condition_dsp_rate_same": Decision(lambda: with_dsp(48000), PLAYS),
    "condition_dsp_rate_absent": Decision(lambda: with_dsp(None), REFUSES,
                                          "config.condition_dsp.sample_rate"),
    "condition_dsp_rates_both_absent": Decision(lambda: with_dsp(None, None), PLAYS),
    "condition_dsp_rate_under_absent": Decision(lambda: with_dsp(48000, None), REFUSES,
                                                "config.condition_dsp.sample_rate"),
    "condition_dsp_rate_null": Decision(lambda: with_dsp(48000), REFUSES,
                                        "config.condition_dsp.sample_rate",
                                        edit=setter("config.condition_dsp.sample_rate", None)),
    # ---- WaveNet config (parse_config_json, NAM/wavenet/model.cpp)
    "condition_dsp_null": Decision(small_wavenet, PLAYS,
                                   edit=setter("config.condition_dsp", None), same_as_base=True),
    "condition_dsp_false": Decision(small_wavenet, REFUSES, "config.condition_dsp",
                                    edit=setter("config.condition_dsp", False)),
    "condition_dsp_empty": Decision(small_wavenet, REFUSES, "config.condition_dsp.version",
                                    edit=setter("config.condition_dsp", {})),
    "head_scale_missing": Decision(small_wavenet, REFUSES, "config.head_scale",
                                   edit=setter("config.head_scale", DELETE)),
    "head_scale_null": Decision(small_wavenet, REFUSES, "config.head_scale",
                                edit=setter("config.head_scale", None)),
    "head_scale_bool": Decision(small_wavenet, WARNS, "config.head_scale",
                                edit=setter("config.head_scale", True)),
    "in_channels_null": Decision(small_wavenet, REFUSES, "config.in_channels",
                                 edit=setter("config.in_channels", None)),
    "in_channels_whole_float": Decision(small_wavenet, PLAYS, same_as_base=True,
                                        edit=setter("config.in_channels", 1.0)),
    "layers_empty": Decision(small_wavenet, REFUSES, "config.layers",
                             edit=setter("config.layers", [])),
    "post_head_null": Decision(small_wavenet, PLAYS, edit=setter("config.head", None),
                               same_as_base=True),
    "post_head_false": Decision(small_wavenet, REFUSES, "config.head",
                                edit=setter("config.head", False)),
    "channels_whole_float": Decision(small_wavenet, PLAYS, same_as_base=True,
                                     edit=setter(f"{L0}.channels", 4.0)),
    "channels_truncated": Decision(small_wavenet, WARNS, f"{L0}.channels",
                                   edit=setter(f"{L0}.channels", 4.9), same_as_base=True),
    "channels_string": Decision(small_wavenet, REFUSES, f"{L0}.channels",
                                edit=setter(f"{L0}.channels", "4")),
    "channels_beyond_int": Decision(small_wavenet, REFUSES, f"{L0}.channels",
                                    edit=setter(f"{L0}.channels", 4294967300)),
    "input_size_missing": Decision(small_wavenet, REFUSES, f"{L0}.input_size",
                                   edit=setter(f"{L0}.input_size", DELETE)),
    "dilations_whole_floats": Decision(small_wavenet, PLAYS, same_as_base=True,
                                       edit=setter(f"{L0}.dilations", [1.0, 2.0])),
    "dilations_truncated": Decision(small_wavenet, WARNS, f"{L0}.dilations[1]",
                                    edit=setter(f"{L0}.dilations", [1, 2.9]),
                                    same_as_base=True),
    "dilations_zero": Decision(small_wavenet, REFUSES, f"{L0}.dilations[0]",
                               edit=setter(f"{L0}.dilations", [0, 2])),
    "dilations_empty": Decision(small_wavenet, REFUSES, f"{L0}.dilations",
                                edit=setter(f"{L0}.dilations", [])),
    "kernel_size_truncated": Decision(small_wavenet, WARNS, f"{L0}.kernel_size",
                                      edit=setter(f"{L0}.kernel_size", 3.9), same_as_base=True),
    "kernel_size_null": Decision(small_wavenet, REFUSES, f"{L0}.kernel_size",
                                 edit=setter(f"{L0}.kernel_size", None)),
    "kernel_size_and_sizes": Decision(small_wavenet, REFUSES, L0,
                                      edit=setter(f"{L0}.kernel_sizes", [3, 3])),
    "kernel_sizes_whole_floats": Decision(small_wavenet, PLAYS, same_as_base=True, edit=both(
        setter(f"{L0}.kernel_size", DELETE), setter(f"{L0}.kernel_sizes", [3.0, 3.0]))),
    "bottleneck_null": Decision(small_wavenet, REFUSES, f"{L0}.bottleneck",
                                edit=setter(f"{L0}.bottleneck", None)),
    "bottleneck_truncated": Decision(small_wavenet, WARNS, f"{L0}.bottleneck",
                                     edit=setter(f"{L0}.bottleneck", 4.5), same_as_base=True),
    "groups_input_null": Decision(small_wavenet, REFUSES, f"{L0}.groups_input",
                                  edit=setter(f"{L0}.groups_input", None)),
    "groups_input_bool": Decision(small_wavenet, WARNS, f"{L0}.groups_input",
                                  edit=setter(f"{L0}.groups_input", True), same_as_base=True),
    "layer1x1_null": Decision(small_wavenet, REFUSES, f"{L0}.layer1x1",
                              edit=setter(f"{L0}.layer1x1", None)),
    "layer1x1_false": Decision(small_wavenet, REFUSES, f"{L0}.layer1x1",
                               edit=setter(f"{L0}.layer1x1", False)),
    "layer1x1_no_groups": Decision(small_wavenet, REFUSES, f"{L0}.layer1x1.groups",
                                   edit=setter(f"{L0}.layer1x1", {"active": True})),
    "layer1x1_full": Decision(small_wavenet, PLAYS, same_as_base=True,
                              edit=setter(f"{L0}.layer1x1", {"active": True, "groups": 1})),
    "head1x1_null": Decision(small_wavenet, REFUSES, f"{L0}.head1x1",
                             edit=setter(f"{L0}.head1x1", None)),
    "head1x1_inactive_only": Decision(small_wavenet, REFUSES, f"{L0}.head1x1.out_channels",
                                      edit=setter(f"{L0}.head1x1", {"active": False})),
    "head1x1_inactive_full": Decision(small_wavenet, PLAYS, same_as_base=True, edit=setter(
        f"{L0}.head1x1", {"active": False, "out_channels": 7, "groups": 1})),
    "head_null_legacy": Decision(small_wavenet, PLAYS, same_as_base=True, edit=both(
        setter(f"{L0}.head", None), setter(f"{L0}.head_size", 2),
        setter(f"{L0}.head_bias", False))),
    "head_null_nothing_else": Decision(small_wavenet, REFUSES, L0,
                                       edit=setter(f"{L0}.head", None)),
    "head_not_object": Decision(small_wavenet, REFUSES, f"{L0}.head",
                                edit=setter(f"{L0}.head", [2])),
    "head_with_ignored_legacy_keys": Decision(small_wavenet, PLAYS, same_as_base=True,
                                              edit=setter(f"{L0}.head_size", "x")),
    "head_dilation_null": Decision(small_wavenet, REFUSES, f"{L0}.head.head_dilation",
                                   edit=setter(f"{L0}.head.head_dilation", None)),
    "head_kernel_zero": Decision(small_wavenet, REFUSES, f"{L0}.head.kernel_size",
                                 edit=setter(f"{L0}.head.kernel_size", 0)),
    "head_bias_number": Decision(small_wavenet, REFUSES, f"{L0}.head.bias",
                                 edit=setter(f"{L0}.head.bias", 0)),
    "legacy_head_bias_missing": Decision(legacy_a1_doc, REFUSES, f"{L0}.head_bias",
                                         edit=setter(f"{L0}.head_bias", DELETE)),
    "legacy_head_bias_null": Decision(legacy_a1_doc, REFUSES, f"{L0}.head_bias",
                                      edit=setter(f"{L0}.head_bias", None)),
    "legacy_version_new_keys": Decision(small_wavenet, PLAYS, same_as_base=True,
                                        edit=setter("version", "0.5.0")),
    "activation_null": Decision(small_wavenet, REFUSES, f"{L0}.activation",
                                edit=setter(f"{L0}.activation", None)),
    "activation_lowercase": Decision(small_wavenet, REFUSES, f"{L0}.activation",
                                     edit=setter(f"{L0}.activation", "tanh")),
    "activation_list_short": Decision(small_wavenet, REFUSES, f"{L0}.activation",
                                      edit=setter(f"{L0}.activation", ["Tanh"])),
    "activation_object_no_type": Decision(small_wavenet, REFUSES, f"{L0}.activation.type",
                                          edit=setter(f"{L0}.activation", {})),
    "activation_object_extra_keys": Decision(small_wavenet, PLAYS, same_as_base=True, edit=setter(
        f"{L0}.activation", {"type": "Tanh", "inplace": "yes"})),
    "prelu_slopes_divide": Decision(lambda: prelu_wavenet([0.1, 0.2]), WARNS,
                                    f"{L0}.activation"),
    "prelu_slopes_time_varying": Decision(lambda: prelu_wavenet([0.1, 0.2]), REFUSES,
                                          f"{L0}.activation", edit=setter(
                                              f"{L0}.activation.negative_slopes", [0.1] * 3)),
    "prelu_in_gated_layer": Decision(gated_wavenet, REFUSES, f"{L0}.activation[0]",
                                     edit=setter(f"{L0}.activation", ["PReLU", "Tanh"])),
    "gating_mode_null": Decision(small_wavenet, REFUSES, f"{L0}.gating_mode",
                                 edit=setter(f"{L0}.gating_mode", None)),
    "gating_mode_uppercase": Decision(small_wavenet, REFUSES, f"{L0}.gating_mode",
                                      edit=setter(f"{L0}.gating_mode", "NONE")),
    "gating_none_secondary_unread": Decision(small_wavenet, PLAYS, same_as_base=True, edit=both(
        setter(f"{L0}.gating_mode", "none"), setter(f"{L0}.secondary_activation", "Foo"))),
    "gated_null": Decision(small_wavenet, REFUSES, f"{L0}.gated",
                           edit=setter(f"{L0}.gated", None)),
    "gated_number": Decision(small_wavenet, REFUSES, f"{L0}.gated",
                             edit=setter(f"{L0}.gated", 0)),
    "gated_ignored_beside_gating_mode": Decision(small_wavenet, PLAYS, same_as_base=True,
                                                 edit=both(setter(f"{L0}.gating_mode", "none"),
                                                           setter(f"{L0}.gated", "yes"))),
    "secondary_null_for_gated_layer": Decision(gated_wavenet, REFUSES,
                                               f"{L0}.secondary_activation[0]",
                                               edit=setter(f"{L0}.secondary_activation[0]", None)),
    "secondary_list_wrong_length": Decision(gated_wavenet, REFUSES,
                                            f"{L0}.secondary_activation", edit=setter(
                                                f"{L0}.secondary_activation", ["Sigmoid"] * 3)),
    "secondary_single_list_for_string_mode": Decision(
        lambda: small_wavenet(gating_mode="gated"), REFUSES, f"{L0}.secondary_activation",
        edit=setter(f"{L0}.secondary_activation", ["Sigmoid", "Sigmoid"])),
    "secondary_default_sigmoid": Decision(lambda: small_wavenet(gating_mode="gated"), PLAYS),
    "film_null": Decision(small_wavenet, REFUSES, f"{L0}.conv_pre_film",
                          edit=setter(f"{L0}.conv_pre_film", None)),
    "film_true": Decision(small_wavenet, REFUSES, f"{L0}.conv_pre_film",
                          edit=setter(f"{L0}.conv_pre_film", True)),
    "film_false": Decision(small_wavenet, PLAYS, same_as_base=True,
                           edit=setter(f"{L0}.conv_pre_film", False)),
    "film_empty_object_is_active": Decision(small_wavenet, REFUSES, "weights",
                                            edit=setter(f"{L0}.conv_pre_film", {})),
    "film_inactive_object": Decision(small_wavenet, PLAYS, same_as_base=True, edit=setter(
        f"{L0}.conv_pre_film", {"active": False, "shift": True, "groups": 1})),
    "film_inactive_bad_groups": Decision(small_wavenet, REFUSES, f"{L0}.conv_pre_film.groups",
                                         edit=setter(f"{L0}.conv_pre_film",
                                                     {"active": False, "groups": None})),
    "film_layer1x1_post_without_layer1x1": Decision(
        lambda: small_wavenet(bottleneck=4, layer1x1={"active": False, "groups": 1}), REFUSES,
        f"{L0}.layer1x1_post_film", edit=setter(f"{L0}.layer1x1_post_film", {"active": True})),
    "slimmable_null": Decision(small_wavenet, PLAYS, same_as_base=True,
                               edit=setter(f"{L0}.slimmable", None)),
    "slimmable_string_ignored": Decision(small_wavenet, PLAYS, same_as_base=True,
                                         edit=setter(f"{L0}.slimmable", "yes")),
    "slimmable_empty_method_ignored": Decision(small_wavenet, PLAYS, same_as_base=True,
                                               edit=setter(f"{L0}.slimmable", {"method": ""})),
    "slimmable_other_method": Decision(small_wavenet, REFUSES, f"{L0}.slimmable.method",
                                       edit=setter(f"{L0}.slimmable", {"method": "prune"})),
    "slimmable_not_ascending": Decision(small_wavenet, REFUSES,
                                        f"{L0}.slimmable.kwargs.allowed_channels",
                                        edit=setter(f"{L0}.slimmable", {
                                            "method": "slice_channels_uniform",
                                            "kwargs": {"allowed_channels": [2, 1, 4]}})),
    # ---- the A2 fast path (is_a2_shape, NAM/wavenet/a2_fast.cpp)
    "a2_film_null": Decision(a2_shaped, PLAYS, edit=setter(f"{L0}.conv_pre_film", None),
                             same_as_base=True),
    "a2_head1x1_null": Decision(a2_shaped, PLAYS, edit=setter(f"{L0}.head1x1", None),
                                same_as_base=True),
    "a2_gated_number": Decision(a2_shaped, PLAYS, edit=setter(f"{L0}.gated", 1),
                                same_as_base=True),
    "a2_gating_mode_null": Decision(a2_shaped, PLAYS, same_as_base=True,
                                    edit=setter(f"{L0}.gating_mode", None)),
    "a2_layer1x1_no_groups": Decision(a2_shaped, PLAYS, same_as_base=True,
                                      edit=setter(f"{L0}.layer1x1", {"active": True})),
    "a2_groups_input_null": Decision(a2_shaped, REFUSES, f"{L0}.groups_input",
                                     edit=setter(f"{L0}.groups_input", None)),
    "a2_head_scale_null": Decision(a2_shaped, REFUSES, "config.head_scale",
                                   edit=setter("config.head_scale", None)),
    # ---- LSTM, Linear, ConvNet, SlimmableContainer
    "lstm_hidden_truncated": Decision(lambda: lstm_doc(3), WARNS, "config.hidden_size",
                                      edit=setter("config.hidden_size", 3.7),
                                      same_as_base=True),
    "lstm_num_layers_missing": Decision(lambda: lstm_doc(3), REFUSES, "config.num_layers",
                                        edit=setter("config.num_layers", DELETE)),
    "lstm_in_channels_null": Decision(lambda: lstm_doc(3), REFUSES, "config.in_channels",
                                      edit=setter("config.in_channels", None)),
    "linear_bias_number": Decision(linear_doc, REFUSES, "config.bias",
                                   edit=setter("config.bias", 1)),
    "linear_implementation_case": Decision(linear_doc, PLAYS,
                                           edit=setter("config.implementation", "FFT")),
    "linear_implementation_unknown": Decision(linear_doc, REFUSES, "config.implementation",
                                              edit=setter("config.implementation", "fast")),
    "linear_implementation_null": Decision(linear_doc, REFUSES, "config.implementation",
                                           edit=setter("config.implementation", None)),
    "convnet_activation_list": Decision(small_convnet, REFUSES, "config.activation",
                                        edit=setter("config.activation", ["Tanh"] * 2)),
    "convnet_batchnorm_number": Decision(small_convnet, REFUSES, "config.batchnorm",
                                         edit=setter("config.batchnorm", 0)),
    "convnet_dilations_empty": Decision(small_convnet, REFUSES, "config.dilations",
                                        edit=setter("config.dilations", [])),
    "convnet_groups_null": Decision(small_convnet, REFUSES, "config.groups",
                                    edit=setter("config.groups", None)),
    "container_submodels_empty": Decision(two_lstms, REFUSES, "config.submodels",
                                          edit=setter("config.submodels", [])),
    "container_max_value_bool": Decision(two_lstms, REFUSES, "config.submodels[1].max_value",
                                         edit=setter("config.submodels[1].max_value", True)),
    "container_max_value_missing": Decision(two_lstms, REFUSES, "config.submodels[0].max_value",
                                            edit=setter("config.submodels[0].max_value", DELETE)),
    "container_last_below_one": Decision(two_lstms, REFUSES, "config.submodels[1].max_value",
                                         edit=setter("config.submodels[1].max_value", 0.9)),
    "container_submodel_version": Decision(two_lstms, REFUSES, "config.submodels[0].model.version",
                                           edit=setter("config.submodels[0].model.version",
                                                       "0.9.0")),
}


def _write(tmp_path: Path, decision: Decision) -> tuple[Path, Doc]:
    base = decision.base()
    doc: Any = copy.deepcopy(base)
    if decision.edit is not None:
        result = decision.edit(doc)
        doc = doc if result is None else result
    data = json.dumps(doc, indent=1).encode("utf-8")
    if decision.text is not None:
        data = decision.text(data)
    path = tmp_path / "m.nam"
    path.write_bytes(data)
    return path, base


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_decision(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    decision = DECISIONS[name]
    path, base = _write(tmp_path, decision)
    if decision.expect == REFUSES:
        with pytest.raises(NamFileError) as info:
            read_nam(path)
        assert info.value.path == decision.path, str(info.value)
        assert main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        where = f"{path}: {decision.path}: " if decision.path else f"{path}: "
        assert err.startswith(f"namcheck: {where}"), err
        return
    model = read_nam(path)
    paths = [w.path for w in model.warnings]
    if decision.expect == WARNS:
        assert decision.path in paths, [str(w) for w in model.warnings]
    else:
        assert paths == [], [str(w) for w in model.warnings]
    if decision.same_as_base:  # the same weight layout and weights as the unedited model
        again = read_nam(base)
        assert model.layout == again.layout
        np.testing.assert_array_equal(model.weights, again.weights)
    assert main(["inspect", str(path)]) == 0


def test_duplicate_key_reads_the_last() -> None:
    text = json.dumps(small_wavenet()).replace('"sample_rate": 48000.0',
                                               '"sample_rate": 48000.0, "sample_rate": 44100')
    assert read_nam(json.loads(text)).sample_rate == 44100


def test_wrong_typed_metadata_is_exposed() -> None:
    doc = small_wavenet()
    doc["metadata"]["gain"] = "high"
    model = read_nam(doc)
    assert model.metadata_issues == {"metadata.gain": "high"} and model.gain is None
    doc["metadata"] = "n/a"
    model = read_nam(doc)
    assert model.metadata_issues == {"metadata": "n/a"} and model.metadata == {}


def test_lstm_extra_weights_are_not_played() -> None:
    doc = lstm_doc(3)
    n = len(doc["weights"])
    doc["weights"].extend([9.0] * 4)
    model = read_nam(doc)
    assert model.weights.size == n and model.weights[-1] == doc["weights"][n - 1]


def test_truncated_and_boolean_ints_read_as_the_runtime_reads_them() -> None:
    doc = small_wavenet()
    doc["config"]["layers"][0]["kernel_size"] = 3.9
    doc["config"]["layers"][0]["dilations"] = [True, 2.5]
    la = read_nam(doc).config.layers[0]
    assert la.kernel_sizes == (3, 3) and la.dilations == (1, 2)


def test_prelu_slopes_map_as_the_runtime_applies_them() -> None:
    la = read_nam(prelu_wavenet([0.1, 0.2])).config.layers[0]
    assert la.activation_of(0).slopes == (0.1, 0.2, 0.1, 0.2)


def test_a2_shaped_reads_as_the_fast_path_plays() -> None:
    model = read_nam(a2_shaped())
    assert model.config.a2_shape
    la = model.config.layers[0]
    assert la.num_layers == 23 and la.head_kernel == 16 and la.layer1x1_active


DOC = ROOT / "docs" / "runtime_reading.md"


def test_every_documented_decision_has_a_test() -> None:
    """Each row of the decision table names a case here, and each case has its row."""
    named = set(re.findall(r"`test_runtime_reading::(\w[\w.]*)`", DOC.read_text()))
    assert named, "no decision rows found"
    others = {name for name in globals() if name.startswith("test_")}
    assert named - set(DECISIONS) - others == set()
    assert set(DECISIONS) - named == set()



def test_slimming_limits_apply_only_when_slicing() -> None:
    """groups ≠ 1 in a slimmable WaveNet: played at full size, refused when a slim value
    slices it (the runtime checks it in extract_slimmed_weights)."""
    from namcheck.models.slimming import slim_wavenet

    doc = small_wavenet(groups_input=2, slimmable={
        "method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 4]}})
    model = read_nam(doc)
    assert slim_wavenet(model, 1.0) is model
    with pytest.raises(NamFileError) as info:
        slim_wavenet(model, 0.2)
    assert info.value.path == "config.layers[0].groups_input"

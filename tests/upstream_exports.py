"""Models exported by upstream's own code (neural-amp-modeler 0.13.0), each using one
feature that the C++ runtime and upstream's PyTorch play differently (NAM_FORMAT §8).
The shared fixtures avoid these features on purpose; tests make their own here."""

from __future__ import annotations

from typing import Any

import pytest

nam = pytest.importorskip("nam", reason="the 'upstream' extra (neural-amp-modeler) is not "
                          "installed: pip install '.[upstream]'")


def _layer(**overrides: Any) -> dict[str, Any]:
    config = {"input_size": 1, "condition_size": 1, "channels": 3, "kernel_size": 2,
              "dilations": [1, 2, 4], "activation": "Tanh",
              "head": {"out_channels": 1, "kernel_size": 1, "bias": True}}
    config.update(overrides)
    return config


# name: (upstream WaveNet init config of the one layer array, the divergence cause code)
WAVENET_VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "layer1x1_inactive": (_layer(layer_1x1_config={"active": False, "groups": 1}),
                          "layer1x1_inactive"),
    "layer1x1_post_film_gated": (_layer(
        activation={"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"},
        film_params={"layer1x1_post_film": {"active": True, "shift": True, "groups": 1}}),
        "layer1x1_post_film"),
    "hardtanh_bounds": (_layer(activation={"name": "Hardtanh", "min_val": -0.05,
                                           "max_val": 0.02}), "hardtanh_bounds"),
}


def export_wavenet(layer: dict[str, Any], seed: int, condition_dsp: bool = False
                   ) -> dict[str, Any]:
    """upstream's WaveNet with random weights (seeded), as its exporter writes it."""
    import torch
    from nam.models.wavenet import WaveNet

    torch.manual_seed(seed)
    config: dict[str, Any] = {"layers_configs": [layer], "head": None, "head_scale": 0.02,
                              "sample_rate": 48000}
    if condition_dsp:
        dsp_layer = _layer(head={"out_channels": 2, "kernel_size": 1, "bias": True})
        config["condition_dsp"] = {"name": "WaveNet", "config": {
            "layers_configs": [dsp_layer], "head": None, "head_scale": 1.0}}
        layer["condition_size"] = 2
    net = WaveNet.init_from_config(config)
    with torch.no_grad():  # weights large enough that the features matter audibly
        for p in net.parameters():
            p.mul_(3.0)
    return net._get_export_dict()


def export_linear(seed: int) -> dict[str, Any]:
    import torch
    from nam.models.linear import Linear

    torch.manual_seed(seed)
    return Linear(receptive_field=32, bias=True, sample_rate=48000)._get_export_dict()


def divergent_exports() -> dict[str, tuple[dict[str, Any], str]]:
    """Every divergent feature of compare's list, as an upstream export: name ->
    (.nam document, the cause code namcheck must name)."""
    out = {name: (export_wavenet(dict(layer), seed=i), cause)
           for i, (name, (layer, cause)) in enumerate(WAVENET_VARIANTS.items())}
    out["condition_dsp"] = (export_wavenet(_layer(), seed=7, condition_dsp=True),
                            "condition_dsp_dropped")
    out["linear"] = (export_linear(seed=8), "linear_tap_order")
    return out

"""The taste panel's numbers: layer groups from parameter names, size-weighted task weights, the summary line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aesthetic_curator import curation
from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.taste import layer_groups, summarize_taste, summary_line


def test_layer_groups_follow_the_networks_own_structure():
    efficientnet = {
        "visual.trunk.conv_stem.weight": [32, 3, 3, 3],
        "visual.trunk.bn1.weight": [32],
        **{f"visual.trunk.blocks.{b}.0.conv.weight": [8, 8] for b in range(7)},
        "visual.trunk.conv_head.weight": [1280, 320, 1, 1],
        "head.projection.0.weight": [10, 1280],
    }
    groups = layer_groups(efficientnet)
    assert groups == {"stem": [0, 1], "early": [2, 3, 4], "middle": [5, 6], "late": [7, 8, 9], "head": [10]}
    vit = {"visual.conv1.weight": [768, 3, 16, 16], "visual.positional_embedding": [197, 768]}
    vit |= {f"visual.transformer.resblocks.{b}.attn.in_proj_weight": [2304, 768] for b in range(12)}
    vit |= {"visual.ln_post.weight": [768], "visual.proj": [768, 512], "head.projection.0.weight": [10, 512]}
    groups = layer_groups(vit)
    assert [len(groups[g]) for g in ("stem", "early", "middle", "late", "head")] == [2, 4, 4, 6, 1]


def test_weights_are_size_weighted_means_of_the_coefficients():
    layers = {"stem.weight": [100], "blocks.0.a": [1], "blocks.1.a": [1], "blocks.2.a": [1], "head.w": [10]}
    alpha = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.5], [0.0, 1.0, 1.0, 1.0, 0.5]])
    summary = summarize_taste(alpha, ["sharpness", "people"], layers)
    assert summary.groups == ["stem", "early", "middle", "late", "head"]
    assert summary.weight("sharpness", "stem") == 1.0 and summary.weight("people", "early") == 1.0
    assert summary.weight("people", "head") == 0.5
    assert summary.overall.tolist() == pytest.approx([105 / 113, 8 / 113])  # the big stem layer counts most
    with pytest.raises(ValueError, match="do not fit"):
        summarize_taste(alpha[:, :3], ["sharpness", "people"], layers)


def test_the_summary_line_says_only_what_the_weights_say():
    tasks = ["sharpness", "exposure", "people", "landscape", "food"]
    line = summary_line(tasks, np.array([0.6, 0.3, 0.1, 0.05, -0.2]))
    assert line == "mostly sharpness; least landscape; against food"
    line = summary_line(tasks, np.array([0.3, 0.3, 0.3, 0.2, 0.1]))  # half the positive weight: the first two
    assert line == "mostly sharpness and exposure; least food"
    line = summary_line(tasks, np.array([0.5, 0.2, 0.2, 0.2, 0.2]))
    assert line == "mostly sharpness and exposure; least food"  # equal weights keep the bundle's order
    line = summary_line(tasks[:2], np.array([-0.1, -0.2]))
    assert line == "no task counts positively; against exposure and sharpness"


def test_the_builtin_models_profile_has_a_taste(scenes_library):
    path = builtin_bundle_path()
    if path is None:
        pytest.skip("the built-in bundle is not installed")
    bundle = Bundle.load(path)
    groups = layer_groups(bundle.manifest.layers)
    assert list(groups) == ["stem", "early", "middle", "late", "head"] and sum(map(len, groups.values())) == 151
    lib, _ = scenes_library
    for photo, stars in zip(lib.photos()[:12], [1, 2, 3, 4, 5, 3] * 2):
        lib.set_rating(photo.id, stars=stars)
    model = curation.open_model(path, "cpu")
    profile = curation.personalize_album(lib, model, "mine")
    summary = curation.profile_taste(lib, model, profile.profile_id)
    assert summary.tasks == bundle.task_names and summary.line.startswith("mostly ")

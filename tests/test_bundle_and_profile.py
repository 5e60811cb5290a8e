"""Bundle format and profile files: round trips, integrity checks and clear refusals."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from aesthetic_curator.engine.bundle import MANIFEST_NAME, Bundle
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.test_bundle import TestBundleConfig, make_test_bundle
from aesthetic_curator.errors import BundleError, ProfileError


def test_manifest_describes_a_test_bundle(test_bundle: Bundle):
    manifest = json.loads((test_bundle.path / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == 1
    assert manifest["is_test_bundle"] is True
    assert "TEST BUNDLE" in manifest["description"]
    assert manifest["base"]["model"] == "curator-tiny-vit" and manifest["base"]["weights_file"]
    assert [t["name"] for t in manifest["tasks"]] == test_bundle.task_names
    assert len(test_bundle.tasks) == 6
    for task in manifest["tasks"]:
        assert task["dataset"].startswith("synthetic")
        assert task["metrics"]["test_srocc"] > 0.1  # genuinely fine-tuned, not random
    tensors = load_file(str(test_bundle.path / manifest["tasks"][0]["file"]))
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert set(tensors) == set(test_bundle.layer_names)
    assert test_bundle.verify_files() == []


def test_task_vectors_are_nonzero_and_differ(test_bundle: Bundle):
    taus = [test_bundle.load_task_vector(i) for i in range(len(test_bundle.tasks))]
    norms = [sum(float(t.norm()) for t in tau.values()) for tau in taus]
    assert all(n > 0 for n in norms)
    assert not torch.equal(taus[0]["visual.conv1.weight"], taus[1]["visual.conv1.weight"])


def test_edited_manifest_is_refused(test_bundle: Bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    manifest = json.loads((copy / MANIFEST_NAME).read_text())
    manifest["tasks"][0]["name"] = "renamed"
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="edited or is corrupt"):
        Bundle.load(copy)


def test_wrong_shape_task_vector_is_refused_with_its_name(test_bundle: Bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    file = copy / test_bundle.tasks[0].file
    tensors = load_file(str(file))
    tensors["visual.proj"] = torch.zeros(3, 3, dtype=torch.float16)
    save_file(tensors, str(file))
    bundle = Bundle.load(copy)
    with pytest.raises(BundleError, match=r"visual\.proj"):
        bundle.load_task_vector(0)
    assert any("changed" in p for p in bundle.verify_files())


def test_not_a_bundle_and_missing_files(tmp_path):
    with pytest.raises(BundleError, match="not a bundle"):
        Bundle.load(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BundleError, match="cannot read manifest"):
        Bundle.load(tmp_path)


def test_bundle_files_are_never_unpickled(test_bundle: Bundle):
    """Every tensor file is safetensors: the header is JSON, not a pickle stream."""
    for file in test_bundle.path.rglob("*.safetensors"):
        raw = file.read_bytes()
        header_len = int.from_bytes(raw[:8], "little")
        json.loads(raw[8 : 8 + header_len])


def test_existing_output_folder_is_not_overwritten(test_bundle: Bundle):
    with pytest.raises(BundleError, match="already exists"):
        make_test_bundle(test_bundle.path, TestBundleConfig(pretrain_steps=1, head_steps=1, finetune_steps=1))


@pytest.fixture(scope="module")
def profile(test_bundle: Bundle) -> Profile:
    merged = MergedScorer.from_bundle(test_bundle)
    images = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    result = personalize(merged, images, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5], PersonalizeConfig(solver="paper", steps=5))
    return Profile.from_result(result, test_bundle, name="portraits")


def test_profile_round_trip(profile: Profile, test_bundle: Bundle, tmp_path):
    path = profile.save(tmp_path / "me.profile")
    assert path.stat().st_size < 20_000
    loaded = Profile.load(path)
    assert torch.equal(loaded.alpha, profile.alpha)
    assert loaded.name == "portraits" and loaded.k == 10 and loaded.temperature == 0.1
    assert loaded.zero_shot_srocc.keys() == set(test_bundle.task_names)
    assert loaded.extra["backward_passes"] == 50
    loaded.check_bundle(test_bundle)


def test_profile_refuses_another_bundle(profile: Profile, tmp_path):
    other = make_test_bundle(
        tmp_path / "other", TestBundleConfig(seed=5, n_images=64, pretrain_steps=2, head_steps=1, finetune_steps=1)
    )
    with pytest.raises(ProfileError, match="personalize again"):
        profile.check_bundle(other)


def test_corrupt_profile_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.profile"
    bad.write_bytes(b"\x80\x04not a profile")
    with pytest.raises(ProfileError, match="not a valid profile"):
        Profile.load(bad)
    with pytest.raises(ProfileError, match="no such profile"):
        Profile.load(tmp_path / "missing.profile")

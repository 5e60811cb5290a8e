"""Bundle format and profile files: round trips, integrity checks and clear refusals."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from aesthetic_curator.engine.bundle import MANIFEST_NAME, Bundle, file_sha256
from aesthetic_curator.engine.manifest import compute_bundle_id
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personalize
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.test_bundle import TestBundleConfig, make_test_bundle
from aesthetic_curator.errors import BundleError, ProfileError


def test_manifest_describes_a_test_bundle(test_bundle: Bundle):
    manifest = json.loads((test_bundle.path / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == 2
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


def resign_task(bundle_path, index: int, tensors) -> None:
    """Replace a task file and record its new checksum (and bundle id) in the manifest, as a bundle
    writer would: only the content checks (shapes, finiteness) can then catch what is wrong."""
    manifest = json.loads((bundle_path / MANIFEST_NAME).read_text())
    file = bundle_path / manifest["tasks"][index]["file"]
    save_file(tensors, str(file))
    manifest["tasks"][index]["sha256"] = file_sha256(file)
    manifest["bundle_id"] = compute_bundle_id(manifest)
    (bundle_path / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_wrong_shape_task_vector_is_refused_with_its_name(test_bundle: Bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    tensors = load_file(str(copy / test_bundle.tasks[0].file))
    tensors["visual.proj"] = torch.zeros(3, 3, dtype=torch.float16)
    resign_task(copy, 0, tensors)
    bundle = Bundle.load(copy)
    with pytest.raises(BundleError, match=r"visual\.proj"):
        bundle.load_task_vector(0)


def test_altered_task_file_is_refused_on_load_not_only_by_verify(test_bundle: Bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    file = copy / test_bundle.tasks[0].file
    tensors = load_file(str(file))
    tensors["visual.proj"] = tensors["visual.proj"] * 1.01  # same shapes, different scores
    save_file(tensors, str(file))
    bundle = Bundle.load(copy)
    with pytest.raises(BundleError, match="checksum mismatch"):
        bundle.load_task_vector(0)
    with pytest.raises(BundleError, match="checksum mismatch"):
        MergedScorer.from_bundle(bundle)
    assert any("changed" in p for p in bundle.verify_files())


def test_task_file_with_nan_is_refused_even_with_a_matching_checksum(test_bundle: Bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    tensors = load_file(str(copy / test_bundle.tasks[1].file))
    tensors["visual.proj"][0, 0] = float("nan")
    resign_task(copy, 1, tensors)
    with pytest.raises(BundleError, match="NaN or infinite"):
        Bundle.load(copy).load_task_vector(1)


@pytest.mark.parametrize("outside", ["../outside.safetensors", "/etc/passwd", "tasks/../../x.safetensors"])
def test_manifest_paths_that_leave_the_bundle_are_refused(test_bundle: Bundle, tmp_path, outside):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    shutil.copy(copy / test_bundle.tasks[0].file, tmp_path / "outside.safetensors")  # a loadable file out there
    manifest = json.loads((copy / MANIFEST_NAME).read_text())
    manifest["tasks"][0]["file"] = outside
    manifest["bundle_id"] = compute_bundle_id(manifest)
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="not inside the bundle"):
        Bundle.load(copy)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(layers=5),
        lambda m: m.update(tasks="x"),
        lambda m: m.update(tasks=[{"name": "a"}]),
        lambda m: m.update(format_version="two"),
        lambda m: m["head"].update(hidden="wide"),
        lambda m: m.update(base=None),
    ],
)
def test_malformed_manifest_is_one_clear_error(test_bundle: Bundle, tmp_path, edit):
    copy = tmp_path / "b"
    shutil.copytree(test_bundle.path, copy)
    manifest = json.loads((copy / MANIFEST_NAME).read_text())
    edit(manifest)
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"malformed manifest|edited or is corrupt"):
        Bundle.load(copy)
    (copy / MANIFEST_NAME).write_text(json.dumps([1, 2]))
    with pytest.raises(BundleError, match="not an Aesthetic Curator bundle"):
        Bundle.load(copy)


def test_not_a_bundle_and_missing_files(tmp_path):
    with pytest.raises(BundleError, match="not a bundle"):
        Bundle.load(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BundleError, match="cannot read manifest"):
        Bundle.load(tmp_path)


def test_bundles_and_profiles_load_without_unpickling(test_bundle: Bundle, profile: Profile, tmp_path, monkeypatch):
    """With every unpickling entry point made to fail, a bundle, its merged model and a profile still load."""
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("a model file was unpickled")

    saved = profile.save(tmp_path / "me.profile")
    stored = profile.to_bytes()
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    bundle = Bundle.load(test_bundle.path)
    merged = MergedScorer.from_bundle(bundle)
    assert merged.n_tasks == len(bundle.tasks)
    assert torch.equal(Profile.load(saved).alpha, profile.alpha)
    assert torch.equal(Profile.from_bytes(stored).alpha, profile.alpha)


def test_existing_output_folder_is_not_overwritten(test_bundle: Bundle):
    with pytest.raises(BundleError, match="already exists"):
        make_test_bundle(test_bundle.path, TestBundleConfig(pretrain_steps=1, head_steps=1, finetune_steps=1))


@pytest.fixture(scope="module")
def profile(test_bundle: Bundle) -> Profile:
    merged = MergedScorer.from_bundle(test_bundle)
    images = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    result = personalize(merged, images, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5], PersonalizeConfig.for_solver("paper", steps=5))
    return Profile.from_result(result, test_bundle, name="portraits")


def test_profile_round_trip(profile: Profile, test_bundle: Bundle, tmp_path):
    path = profile.save(tmp_path / "me.profile")
    assert path.stat().st_size < 20_000
    loaded = Profile.load(path)
    assert torch.equal(loaded.alpha, profile.alpha)
    assert loaded.name == "portraits" and loaded.k == 10 and loaded.temperature == 0.1
    assert loaded.zero_shot_srocc.keys() == set(test_bundle.task_names)
    assert loaded.extra["backward_passes"] == 50 + 10  # 5 steps, and the agreement's Jacobian
    assert loaded.extra["agreement"] == profile.extra["agreement"] and loaded.extra["comparisons"] == 0
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


def _profile_with(profile: Profile, tmp_path, alpha=None, **meta_changes):
    """A profile file whose coefficients or metadata were tampered with."""
    from safetensors.torch import save_file as save

    meta = profile.metadata()
    meta.update(meta_changes)
    for key in [k for k, v in meta_changes.items() if v is None]:
        meta.pop(key)
    path = tmp_path / "tampered.profile"
    tensor = profile.alpha if alpha is None else alpha
    save({"alpha": tensor.contiguous()}, str(path), metadata={"aesthetic_curator_profile": json.dumps(meta)})
    return path


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e30])
def test_profile_with_unusable_coefficients_is_refused(profile: Profile, tmp_path, value):
    alpha = profile.alpha.clone()
    alpha[0, 0] = value
    with pytest.raises(ProfileError, match="damaged"):
        Profile.load(_profile_with(profile, tmp_path, alpha))


@pytest.mark.parametrize("change", [{"bundle_id": None}, {"k": "many"}, {"zero_shot_srocc": [1, 2]}, {"n_layers": 3}])
def test_profile_with_malformed_metadata_is_one_clear_error(profile: Profile, tmp_path, change):
    with pytest.raises(ProfileError, match=r"malformed profile metadata|do not fit"):
        Profile.load(_profile_with(profile, tmp_path, **change))


def test_a_new_profile_defaults_to_the_apps_solver(profile: Profile):
    from aesthetic_curator.engine.solvers import DEFAULT_SOLVER

    bare = Profile(profile.alpha, "id", ["a"], profile.n_layers, 10, 0.1, {}, 0.5)
    assert bare.solver == DEFAULT_SOLVER == "fast"

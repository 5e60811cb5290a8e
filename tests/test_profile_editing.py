"""Shaping profiles by hand: task scales, blends, the plain average, versions with undo, import/export, gems."""

from __future__ import annotations

import pytest
import torch

from aesthetic_curator import curation, profile_editing
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.profile_shaping import blend_profiles, plain_average, scale_tasks
from aesthetic_curator.errors import ProfileError
from aesthetic_curator.library.album import index_album


def _profile(test_bundle, alpha: torch.Tensor, name: str = "p") -> Profile:
    return Profile(alpha, test_bundle.bundle_id, list(test_bundle.task_names), alpha.shape[1], 10, 1.0, {}, 0.5, name)


def _random_alpha(test_bundle, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(len(test_bundle.tasks), len(test_bundle.layers), generator=generator)


def test_scaling_multiplies_one_tasks_coefficients_in_every_layer(test_bundle):
    profile = _profile(test_bundle, _random_alpha(test_bundle, 0))
    first, second = test_bundle.task_names[:2]
    shaped = scale_tasks(profile, {first: 0.0, second: 2.5})
    assert torch.equal(shaped.alpha[0], torch.zeros_like(profile.alpha[0]))
    assert torch.allclose(shaped.alpha[1], 2.5 * profile.alpha[1])
    assert torch.equal(shaped.alpha[2:], profile.alpha[2:])
    assert shaped.extra["derived"] == {"from": "p", "scaled": {first: 0.0, second: 2.5}}
    assert torch.equal(Profile.from_bytes(shaped.to_bytes()).alpha, shaped.alpha)
    with pytest.raises(ProfileError, match="no task named nonsense"):
        scale_tasks(profile, {"nonsense": 1.0})
    with pytest.raises(ProfileError, match="between 0 and 3"):
        scale_tasks(profile, {first: -1.0})


def test_a_blend_lies_between_its_profiles_and_refuses_another_bundle(test_bundle):
    a = _profile(test_bundle, _random_alpha(test_bundle, 1), "a")
    b = _profile(test_bundle, _random_alpha(test_bundle, 2), "b")
    blended = blend_profiles(a, b, 0.25, "ab")
    assert torch.allclose(blended.alpha, 0.25 * a.alpha + 0.75 * b.alpha)
    assert blended.name == "ab" and blended.extra["derived"]["blend"] == {"a": "a", "b": "b", "weight": 0.25}
    assert torch.allclose(blend_profiles(a, b, 1.0, "x").alpha, a.alpha)
    other = Profile(b.alpha, "another-bundle", b.task_names, b.n_layers, 10, 1.0, {}, 0.5, "other")
    with pytest.raises(ProfileError, match="different model bundles"):
        blend_profiles(a, other, 0.5, "x")
    with pytest.raises(ProfileError, match="between 0 and 1"):
        blend_profiles(a, b, 1.5, "x")


def test_the_plain_average_weighs_every_task_equally(test_bundle):
    average = plain_average(test_bundle)
    assert torch.allclose(average.alpha, torch.full_like(average.alpha, 1 / len(test_bundle.tasks)))
    average.check_bundle(test_bundle)


@pytest.fixture
def ranked_album(scenes_library, test_bundle):
    lib, _ = scenes_library
    for photo, stars in zip(lib.photos()[:12], [1, 2, 3, 4, 5, 3] * 2):
        lib.set_rating(photo.id, stars=stars)
    model = curation.open_model(test_bundle.path, "cpu")
    profile = curation.personalize_album(lib, model, "mine")
    curation.rank_album(lib, model, profile.profile_id)
    return lib, model, profile.profile_id


def test_apply_stores_a_new_version_with_its_ranking_and_undo_restores_the_old(ranked_album):
    lib, model, pid = ranked_album
    before_data, before_scores = lib.profile_data(pid), lib.scores(pid)
    tasks = model.bundle.task_names
    ranking = profile_editing.reshape_profile(lib, model, pid, {tasks[0]: 0.0, tasks[1]: 3.0})
    assert ranking.ranked == 30 and lib.profile_version_count(pid) == 1
    shaped = Profile.from_bytes(lib.profile_data(pid))
    assert torch.equal(shaped.alpha[0], torch.zeros_like(shaped.alpha[0]))
    assert lib.scores(pid) != before_scores  # the album was re-ranked by the shaped profile ...
    independent = model.rank(shaped, [lib.absolute_path(p) for p in lib.photos()])
    by_path = {lib.absolute_path(p): p.id for p in lib.photos()}
    assert {by_path[i.path]: i.rank for i in independent.ranked} == {k: v[1] for k, v in lib.scores(pid).items()}
    stored = next(p for p in lib.profiles() if p.id == pid)
    assert "agreement" not in stored.metadata  # the measured agreement belonged to the unshaped profile
    assert stored.metadata["previous_profile"] == "mine before this change"
    assert profile_editing.undo_profile_change(lib, pid)
    assert lib.profile_data(pid) == before_data and lib.scores(pid) == before_scores
    assert lib.profile_version_count(pid) == 0 and not profile_editing.undo_profile_change(lib, pid)


def test_a_cancelled_apply_changes_nothing(ranked_album):
    from aesthetic_curator.errors import Cancelled
    from aesthetic_curator.progress import CancelToken

    lib, model, pid = ranked_album
    before = lib.profile_data(pid)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        profile_editing.reshape_profile(lib, model, pid, {model.bundle.task_names[0]: 0.5}, cancel=token)
    assert lib.profile_data(pid) == before and lib.profile_version_count(pid) == 0


def test_blend_export_and_import_round_trip(ranked_album, tmp_path, test_bundle):
    lib, model, pid = ranked_album
    blended = profile_editing.blend_profiles(lib, model, pid, pid, 0.5, "half")
    alpha = Profile.from_bytes(lib.profile_data(pid)).alpha
    assert torch.allclose(Profile.from_bytes(lib.profile_data(blended)).alpha, alpha)
    path = profile_editing.export_profile(lib, pid, tmp_path / "mine.profile")
    assert Profile.load(path).bundle_id == test_bundle.bundle_id
    imported = profile_editing.import_profile(lib, model, path)
    assert {p.id: p.name for p in lib.profiles()}[imported] == "mine (imported)"
    alpha_of = {key: Profile.from_bytes(lib.profile_data(key)).alpha for key in (imported, pid)}
    assert torch.equal(alpha_of[imported], alpha_of[pid])
    foreign = Profile.load(path)
    foreign.bundle_id = "0" * 64
    foreign.save(tmp_path / "foreign.profile")
    with pytest.raises(ProfileError, match="made for another model bundle"):
        profile_editing.import_profile(lib, model, tmp_path / "foreign.profile")
    (tmp_path / "junk.profile").write_bytes(b"not a profile")
    with pytest.raises(ProfileError, match="not a valid profile"):
        profile_editing.import_profile(lib, model, tmp_path / "junk.profile")


def test_hidden_gems_follow_the_rule_and_the_plain_average_is_scored_once(ranked_album):
    scores = {pid: (0.0, rank) for pid, rank in zip(range(1, 11), range(1, 11))}
    reference = {pid: (0.0, 11 - rank) for pid, rank in zip(range(1, 11), range(1, 11))}
    assert profile_editing.hidden_gems(scores, reference) == {1, 2}  # top 20 % here, bottom half there
    assert profile_editing.hidden_gems(scores, scores) == set()
    lib, model, pid = ranked_album
    first = profile_editing.plain_average_scores(lib, model, pid)
    assert first.computed == 30 and set(first.scores) == set(lib.scores(pid))
    again = profile_editing.plain_average_scores(lib, model, pid)
    assert again.computed == 0 and again.scores == first.scores
    gems = profile_editing.hidden_gems(lib.scores(pid), again.scores)
    assert all(lib.scores(pid)[g][1] <= 6 and again.scores[g][1] > 15 for g in gems)

    photos = lib.photos()  # a photo copied in and fitted into the profile's ranking: only it is scored, fitted in
    (lib.album / "new.jpg").write_bytes(lib.absolute_path(photos[7]).read_bytes())
    new = lib.photo(index_album(lib).sync.added[0]).id
    curation.rank_new_photos(lib, model, pid, [new])
    fitted = profile_editing.plain_average_scores(lib, model, pid)
    assert fitted.computed == 1 and set(fitted.scores) == set(lib.scores(pid))
    assert fitted.scores[new][0] == pytest.approx(fitted.scores[photos[7].id][0], abs=1e-2)  # a copy: its score
    assert sorted(rank for _, rank in fitted.scores.values()) == list(range(1, 32))

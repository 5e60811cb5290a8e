"""Album-level actions without the GUI: readiness, suggestions, rankings by stars, profile bytes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from aesthetic_curator import album_export, curation
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.store import PICKED, REJECTED


def test_suggestions_are_unrated_and_cover_every_scene(scenes_library):
    lib, cache = scenes_library
    photos = lib.photos()
    lib.set_rating(photos[0].id, stars=4)  # a red photo is already rated
    ids = curation.suggest_photos_to_rate(lib, cache, 3)
    assert len(ids) == 3 and photos[0].id not in ids
    scenes = {next(p.relpath for p in photos if p.id == i)[:2] for i in ids}
    assert scenes == {"s0", "s1", "s2"}
    assert len(set(curation.suggest_photos_to_rate(lib, cache, 50))) == 29  # never more than the unrated


def test_readiness_and_star_ranking(scenes_library):
    lib, _ = scenes_library
    photos = lib.photos()
    assert not curation.rating_readiness(lib).ready
    for photo in photos[:10]:
        lib.set_rating(photo.id, stars=3)
    assert "different" in curation.rating_readiness(lib).explain()
    lib.set_rating(photos[0].id, stars=5)
    lib.set_rating(photos[1].id, flag=REJECTED)
    assert curation.rating_readiness(lib).ready
    ranking = album_export.album_ranking(lib, None)
    assert ranking[0].relpath == photos[0].relpath and ranking[0].score == 5.0
    assert photos[1].relpath not in {r.relpath for r in ranking}  # rejected photos are not exported
    assert [r.rank for r in ranking] == list(range(1, 10))


def test_export_never_takes_a_rejected_photo_and_can_take_only_the_picks(scenes_library, tmp_path):
    """A profile may rank a photo first that the user rejected; the user's X wins (ranks kept, as the grid shows
    them). With only_picks, only photos picked with P are candidates."""
    lib, _ = scenes_library
    photos = lib.photos()
    ranking = [album_export.RankedPhoto(p.relpath, 10.0 - n, n + 1) for n, p in enumerate(photos)]
    lib.set_rating(photos[0].id, flag=REJECTED)
    lib.set_rating(photos[2].id, flag=PICKED)
    lib.set_rating(photos[5].id, stars=4, flag=PICKED)
    kept = album_export.culled(lib, ranking)
    assert photos[0].relpath not in {r.relpath for r in kept} and [r.rank for r in kept[:2]] == [2, 3]
    assert [r.relpath for r in album_export.culled(lib, ranking, only_picks=True)] == [
        photos[2].relpath,
        photos[5].relpath,
    ]
    for n in range(1, 4):
        lib.set_rating(photos[n].id, stars=5, flag=PICKED if n == 2 else 0)  # by stars: 1, 2, 3 then 5
    lib.set_rating(photos[0].id, stars=5, flag=REJECTED)
    report = album_export.export_album(lib, None, tmp_path / "picks", top=10, only_picks=True)
    assert report.written == 2 and sorted(f.name for f in (tmp_path / "picks").glob("*.jpg")) == sorted(
        Path(photos[n].relpath).name for n in (2, 5)
    )
    lib.set_rating(photos[2].id, flag=0)
    lib.set_rating(photos[5].id, flag=0)
    with pytest.raises(CuratorError, match="none of the ranked photos is picked"):
        album_export.export_album(lib, None, tmp_path / "none", top=10, only_picks=True)


def test_profile_bytes_round_trip(test_bundle):
    import torch

    profile = Profile(
        alpha=torch.rand(len(test_bundle.tasks), len(test_bundle.layers)),
        bundle_id=test_bundle.bundle_id,
        task_names=test_bundle.task_names,
        n_layers=len(test_bundle.layers),
        k=12,
        temperature=0.1,
        zero_shot_srocc={n: 0.1 for n in test_bundle.task_names},
        train_srocc=0.5,
        name="mine",
        solver="fast",
    )
    again = Profile.from_bytes(profile.to_bytes())
    assert torch.equal(again.alpha, profile.alpha) and again.name == "mine" and again.solver == "fast"
    from aesthetic_curator.errors import ProfileError

    with pytest.raises(ProfileError, match="stored profile"):
        Profile.from_bytes(b"not a profile")


def test_comparisons_alone_make_an_album_ready_and_personalize_it(scenes_library, test_bundle):
    """Ten answered "A or B?" questions and no stars: ready, learned from, stored; ties count for nothing."""
    lib, _ = scenes_library
    photos = lib.photos()
    lib.add_comparison(photos[0].id, photos[1].id, "tie")
    assert curation.rating_readiness(lib).comparisons == 0  # "can't decide" teaches no order
    for i in range(10):
        lib.add_comparison(photos[2 * i].id, photos[2 * i + 1].id, "a" if i % 3 else "b")
    readiness = curation.rating_readiness(lib)
    assert readiness.ready and (readiness.rated, readiness.comparisons, readiness.photos) == (0, 10, 20)
    assert readiness.explain() == "10 comparisons: ready to personalize" and readiness.mostly_comparisons
    model = curation.open_model(test_bundle.path, "cpu")
    result = curation.personalize_album(lib, model, "pairs only")
    assert result.k == 20
    stored = Profile.from_bytes(lib.profile_data(result.profile_id))
    assert stored.extra["comparisons"] == 10
    # Scoring ahead covers compared photos too, so the next Personalize has no zero-shot passes.
    # It also warms up (and times) the passes Personalize runs, once: the press's estimate times nothing.
    model.timings.clear()
    assert curation.score_rated_photos_ahead(lib, model) == 20
    assert model.timings and not model.warm_up(20)
    assert set(curation.judged_photos(lib)) == {lib.absolute_path(photo) for photo in photos[:20]}


def test_stars_and_comparisons_count_together(scenes_library):
    lib, _ = scenes_library
    photos = lib.photos()
    for photo in photos[:6]:
        lib.set_rating(photo.id, stars=3)
    assert curation.rating_readiness(lib).explain() == "give 4 more star ratings or comparisons to personalize (6/10)"
    lib.add_comparison(photos[26].id, photos[27].id, "b")  # one comparison is one answer, not two photos
    assert curation.rating_readiness(lib).explain() == "give 3 more star ratings or comparisons to personalize (7/10)"
    assert curation.rating_readiness(lib).told() == "6 ratings and 1 comparison"  # each noun in its number
    lib.undo_comparison()
    for i in range(4):
        lib.add_comparison(photos[10 + i].id, photos[20 + i].id, "a")
    readiness = curation.rating_readiness(lib)
    assert readiness.ready and readiness.explain() == "6 ratings and 4 comparisons: ready to personalize"
    assert readiness.photos == 14 and not readiness.mostly_comparisons  # mostly stars: learned as stars are
    lib.add_comparison(photos[10].id, photos[20].id, "a")  # the same answer again teaches no new pair ...
    assert curation.rating_readiness(lib).comparisons == 4
    lib.add_comparison(photos[20].id, photos[10].id, "a")  # ... a change of mind is a new (opposite) pair
    assert curation.rating_readiness(lib).comparisons == 5


def test_each_profile_knows_its_agreement_and_how_far_the_top_moved(scenes_library, test_bundle):
    from aesthetic_curator.profile_progress import ProfileProgress

    lib, _ = scenes_library
    photos = lib.photos()
    for photo, stars in zip(photos[:15], [1, 2, 3, 4, 5] * 3):
        lib.set_rating(photo.id, stars=stars)
    model = curation.open_model(test_bundle.path, "cpu")
    first = curation.personalize_album(lib, model, "first")
    assert first.progress.agreement is not None and 0 <= first.progress.agreement <= 1
    ranked = curation.rank_album(lib, model, first.profile_id)
    assert ranked.progress.top_moved is None  # nothing before it
    for i in range(10):  # answers that reverse the stars of some photos
        lib.add_comparison(photos[i].id, photos[i + 5].id, "a")
    second = curation.personalize_album(lib, model, "second")
    ranked = curation.rank_album(lib, model, second.profile_id)
    progress = ranked.progress
    assert progress.previous == "first" and 0 <= progress.top_moved <= 1
    stored = next(p for p in lib.profiles() if p.id == second.profile_id).metadata
    assert stored["top_moved"] == pytest.approx(progress.top_moved, abs=1e-4)
    assert ProfileProgress.from_metadata(stored) == progress  # shown again later from the library
    line = progress.describe()
    assert line.startswith(f"predicts {100 * progress.agreement:.0f} % of your choices (± ")
    assert "since “first”" in line
    settled = ProfileProgress(0.8, 0.03, 0.04, "first")
    assert settled.settled and settled.describe().endswith("more answers will change little")
    assert not ProfileProgress(0.8, 0.09, 0.04, "first").settled and not ProfileProgress(0.8, 0.03, 0.3, "a").settled
    assert ProfileProgress.from_metadata({"agreement": "damaged", "top_moved": "x"}) == ProfileProgress(
        None, None, None, None
    )


def test_a_profile_tells_whether_the_answers_changed_since_it_learned(scenes_library, test_bundle):
    """The status line's "N new answers since": each profile keeps a fingerprint of what it learned from."""
    from aesthetic_curator.profile_progress import ProfileProgress, learned_from

    lib, _ = scenes_library
    photos = lib.photos()
    for photo, stars in zip(photos[:10], [1, 2, 3, 4, 5] * 2):
        lib.set_rating(photo.id, stars=stars)
    lib.add_comparison(photos[20].id, photos[21].id, "a")
    model = curation.open_model(test_bundle.path, "cpu")
    learned = curation.personalize_album(lib, model, "mine")
    progress = ProfileProgress.from_metadata(next(p for p in lib.profiles() if p.id == learned.profile_id).metadata)
    assert progress.answers == 11

    def since() -> str:
        readiness = curation.rating_readiness(lib)
        return progress.since(readiness.answers, readiness.digest)

    assert since() == "learned from all your answers"
    lib.add_comparison(photos[22].id, photos[23].id, "b")
    lib.set_rating(photos[11].id, stars=2)
    assert since() == "2 new answers since: Personalize again to use them"
    lib.undo_comparison()
    lib.set_rating(photos[11].id, stars=None)
    assert since() == "learned from all your answers"  # back to what it learned from
    lib.set_rating(photos[0].id, stars=5)  # same number of answers, one changed
    assert since() == "your answers changed since: Personalize again to use them"
    assert ProfileProgress(0.7, 0.1, None, None).since(11, "x") == ""  # a profile from before the fingerprint
    # What it learned from, in the user's units (answers, then the photos they span).
    assert learned_from(learned.k, learned.comparisons, progress.answers) == "10 ratings and 1 comparison (12 photos)"
    assert learned_from(40, 20, 20) == "20 comparisons (40 photos)" and learned_from(12, 0, 12) == "12 ratings"
    assert learned_from(14, 4, None) == "14 photos, 4 comparisons"  # before answers were counted


def test_photos_found_after_ranking_are_fitted_into_it_as_a_full_ranking_would_place_them(scenes_library, test_bundle):
    lib, _ = scenes_library
    photos = lib.photos()
    for n, photo in enumerate(photos[:12]):
        lib.set_rating(photo.id, stars=1 + n % 5)
    model = curation.open_model(test_bundle.path, "cpu")
    model.speed_up_cpu = False  # int8's activation scales follow each batch: a photo's score moves by about 1e-3
    profile_id = curation.personalize_album(lib, model, "me").profile_id
    assert curation.rank_new_photos(lib, model, profile_id, [photos[0].id]) is None  # not ranked yet
    curation.rank_album(lib, model, profile_id)
    for source, name in ((photos[3], "z_new.jpg"), (photos[25], "a_new.jpg")):  # copies: the same score
        (lib.album / name).write_bytes(lib.absolute_path(source).read_bytes())
    (lib.album / "s0_05.jpg").write_bytes(lib.absolute_path(photos[15]).read_bytes())  # changed: its score dropped
    sync = index_album(lib).sync
    assert sorted(sync.added) == ["a_new.jpg", "z_new.jpg"] and sync.changed == ["s0_05.jpg"]

    found = [lib.photo(relpath).id for relpath in sync.added + sync.changed + ["s1_00.jpg"]]
    fitted = curation.rank_new_photos(lib, model, profile_id, found)
    assert fitted.ranked == 3 and fitted.profile_id == profile_id  # s1_00 kept its score: not scored again
    stored = lib.scores(profile_id)
    placed = {relpath: stored[lib.photo(relpath).id][1] for relpath in sync.added + sync.changed}
    assert dict(fitted.placed) == placed and fitted.out_of == len(stored)
    best = min(placed, key=placed.get)
    assert fitted.placement == f"3 new photos ranked; the best, {best} ranks #{placed[best]} of {len(stored)}"
    assert curation.rank_new_photos(lib, model, profile_id, found) is None  # nothing left to score
    curation.rank_album(lib, model, profile_id)
    full = lib.scores(profile_id)
    assert set(stored) == set(full) and sorted(rank for _, rank in stored.values()) == list(range(1, len(full) + 1))
    by_rank = sorted(stored.values(), key=lambda row: row[1])
    assert all(better[0] >= worse[0] for better, worse in itertools.pairwise(by_rank))  # best first
    for pid, (score, rank) in full.items():
        assert stored[pid][0] == pytest.approx(score, abs=1e-5)
        if stored[pid][1] != rank:  # only a tie between copies, scored in different batches, may swap
            assert any(abs(other - score) < 1e-5 for other_id, (other, _) in full.items() if other_id != pid)


def test_an_export_into_the_album_is_not_taken_for_new_photos_of_it(scenes_library, tmp_path):
    from aesthetic_curator.library.scanner import EXPORT_MARKER, folder_listing

    lib, _ = scenes_library
    for stars, photo in enumerate(lib.photos()[:3], start=3):
        lib.set_rating(photo.id, stars=stars)
    inside, outside = lib.album / "selects", tmp_path / "outside"
    assert album_export.export_album(lib, None, inside, top=3).written == 3
    assert (inside / EXPORT_MARKER).is_file() and folder_listing(inside) == frozenset()  # the watcher ignores it
    summary = index_album(lib)
    assert summary.scan.exports == ["selects"] and not summary.sync.any_change and len(lib.photos()) == 30
    album_export.export_album(lib, None, outside, top=3)
    assert not (outside / EXPORT_MARKER).exists()  # a folder outside the album is left as the user keeps it


def test_the_model_a_profile_ranks_with_is_baked_once_and_kept_for_the_photos_fitted_in_after(
    scenes_library, test_bundle, monkeypatch
):
    from aesthetic_curator.engine.merge import MergedScorer
    from aesthetic_curator.engine.profile_shaping import plain_average

    lib, _ = scenes_library
    photos = lib.photos()
    for n, photo in enumerate(photos[:12]):
        lib.set_rating(photo.id, stars=1 + n % 5)
    model = curation.open_model(test_bundle.path, "cpu")
    first = curation.personalize_album(lib, model, "me").profile_id
    for n, photo in enumerate(photos[:12]):
        lib.set_rating(photo.id, stars=5 - n % 5)
    second = curation.personalize_album(lib, model, "the opposite").profile_id
    bakes = []
    bake = MergedScorer.bake_from_bundle
    monkeypatch.setattr(MergedScorer, "bake_from_bundle", lambda *a, **k: bakes.append(1) or bake(*a, **k))

    curation.rank_album(lib, model, first)
    (lib.album / "new.jpg").write_bytes(lib.absolute_path(photos[3]).read_bytes())
    added = [lib.photo(relpath).id for relpath in index_album(lib).sync.added]
    assert curation.rank_new_photos(lib, model, first, added).ranked == 1
    assert len(bakes) == 1  # the fit scored the new photo with the model the ranking baked
    model.prefetch_task_scores([lib.absolute_path(photos[20])])  # a rating scored ahead loads the task vectors
    curation.rank_album(lib, model, first)
    kept = lib.scores(first)
    assert len(bakes) == 1
    curation.rank_album(lib, model, second)
    curation.rank_album(lib, model, first)
    assert len(bakes) == 2  # two kept on a CPU (the profile's and the plain average's, for the hidden gems)
    model.rank(plain_average(model.bundle), [lib.absolute_path(photos[0])])
    curation.rank_album(lib, model, second)
    assert len(bakes) == 4  # a third replaced the least recently used
    curation.rank_album(lib, curation.open_model(test_bundle.path, "cpu"), first)  # baked afresh elsewhere
    assert lib.scores(first) == kept  # the model kept scores as a freshly baked one

"""The user's other albums: their profiles found, copied and listed; their answers learned from too."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import torch

from aesthetic_curator import curation, profile_editing
from aesthetic_curator.cli import main
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.errors import CuratorError, ProfileError
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.other_albums import (
    answers_elsewhere,
    carried_metadata,
    profile_file_bytes,
    profiles_elsewhere,
)
from aesthetic_curator.library.store import Library, libraries_dir
from aesthetic_curator.model_setup import bundle_id_at
from aesthetic_curator.profile_progress import learned_from


@pytest.fixture
def libraries(tmp_path, monkeypatch) -> Path:
    """A data folder of this test's own: every album's library in it, nobody else's."""
    monkeypatch.setenv("AESTHETIC_CURATOR_DATA_DIR", str(tmp_path / "data"))
    return libraries_dir()


def _album(root: Path, name: str, count: int = 12, seed: int = 0) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for index, photo in enumerate(synthetic_photos(count, 48, seed=seed)):
        photo.save(folder / f"IMG_{index:04d}.jpg", quality=90)
    return folder


def _store(folder: Path, profiles: dict[str, dict]) -> None:
    library = Library.open_for_album(folder)
    try:
        for name, metadata in profiles.items():
            library.save_profile(name, f"bytes of {name}".encode(), metadata.pop("bundle_id", "b" * 64), metadata)
            time.sleep(0.01)  # made one after the other
    finally:
        library.close()


def test_profiles_of_the_other_albums_are_listed_newest_first_and_read_unchanged(libraries, tmp_path):
    wedding, portraits, new = (_album(tmp_path, name, seed=n) for n, name in enumerate(("wedding", "portraits", "new")))
    _store(wedding, {"mine": {"k": 24, "agreement": {"value": 0.78, "error": 0.05}}, "bw": {}})
    _store(portraits, {"faces": {"k": 40, "answers": {"count": 45, "digest": "x"}, "extra": {"comparisons": 5}}})
    _store(new, {"own": {}})
    (libraries / "damaged-0000.sqlite3").write_bytes(b"not a database at all")
    before = {path.name: path.read_bytes() for path in libraries.glob("*.sqlite3")}

    found = profiles_elsewhere(libraries, new)
    assert [(p.name, p.album_name) for p in found] == [("faces", "portraits"), ("bw", "wedding"), ("mine", "wedding")]
    assert profile_file_bytes(found[2]) == b"bytes of mine"
    assert profile_editing.describe_elsewhere(found[2]) == (
        "learned from 24 photos; predicted 78 % of your choices there"
    )
    assert profile_editing.describe_elsewhere(found[0]) == "learned from 40 ratings and 5 comparisons (40 photos)"
    assert profile_editing.describe_elsewhere(found[1]) == ""
    assert [p.name for p in profiles_elsewhere(libraries)] == ["own", "faces", "bw", "mine"]  # no album: every one
    assert [p.name for p in profiles_elsewhere(libraries, new, recent=1)] == []  # only the latest written: its own
    assert {path.name: path.read_bytes() for path in libraries.glob("*.sqlite3")} == before  # nothing written

    carried = carried_metadata(found[0])
    assert carried["answers"] == {"count": 45} and carried["from_album"] == str(portraits.resolve())
    assert "digest" not in str(carried)  # nothing to compare this album's answers with
    carried = carried_metadata(found[2])  # how well it knew the user there is kept, not as this album's agreement
    assert "agreement" not in carried and carried["agreement_there"] == {"value": 0.78, "error": 0.05}

    gone = found[2].library
    with sqlite3.connect(gone) as db:
        db.execute("DELETE FROM profiles WHERE name = 'mine'")
    with pytest.raises(CuratorError, match="no longer in the library"):
        profile_file_bytes(found[2])


def test_a_profile_of_another_album_ranks_a_new_album_as_it_ranked_its_own(libraries, tmp_path, test_bundle):
    taught, new = _album(tmp_path, "taught", 16, seed=1), _album(tmp_path, "new", 14, seed=2)
    model = curation.open_model(test_bundle.path, "cpu")
    library = Library.open_for_album(taught)
    index_album(library)
    for photo, stars in zip(library.photos()[:12], [1, 2, 3, 4, 5, 3] * 2):
        library.set_rating(photo.id, stars=stars)
    profile_id = curation.personalize_album(library, model, "mine").profile_id
    taught_alpha = Profile.from_bytes(library.profile_data(profile_id)).alpha
    library.close()

    target = Library.open_for_album(new)
    index_album(target)
    target.save_profile("mine", b"", test_bundle.bundle_id, {})  # a name already taken here
    (found,) = profiles_elsewhere(libraries, new)
    adopted = profile_editing.adopt_profile(target, model, found)
    stored = next(p for p in target.profiles() if p.id == adopted)
    assert stored.name == "mine (from taught)"
    assert stored.metadata["from_album"] == str(taught.resolve()) and "digest" not in stored.metadata["answers"]
    assert torch.equal(Profile.from_bytes(target.profile_data(adopted)).alpha, taught_alpha)
    curation.rank_album(target, model, adopted)
    by_path = {target.absolute_path(p): p.id for p in target.photos()}
    expected = model.rank(Profile.from_bytes(target.profile_data(adopted)), list(by_path))
    assert {by_path[item.path]: item.rank for item in expected.ranked} == {
        k: v[1] for k, v in target.scores(adopted).items()
    }
    assert len(target.scores(adopted)) == 14

    with sqlite3.connect(found.library) as db:  # the profile stored there is of another bundle now
        data = Profile.from_bytes(profile_file_bytes(found))
        data.bundle_id = "0" * 64
        db.execute("UPDATE profiles SET data = ? WHERE id = ?", (data.to_bytes(), found.profile_id))
    with pytest.raises(ProfileError, match="made for another model bundle"):
        profile_editing.adopt_profile(target, model, found)
    target.close()


def test_the_profiles_command_lists_them_and_writes_one_for_rank(libraries, tmp_path, capsys, test_bundle):
    wedding, other = _album(tmp_path, "wedding"), _album(tmp_path, "other", seed=3)
    assert main(["profiles"]) == 0
    assert "no album has a profile yet" in capsys.readouterr().err
    profile = Profile(
        torch.rand(len(test_bundle.tasks), len(test_bundle.layers)),
        test_bundle.bundle_id,
        list(test_bundle.task_names),
        len(test_bundle.layers),
        20,
        1.0,
        {},
        0.5,
        "mine",
    )
    library = Library.open_for_album(wedding)
    library.save_profile("mine", profile.to_bytes(), profile.bundle_id, profile.metadata())
    library.close()

    assert main(["profiles"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"mine\t{wedding.resolve()}\t") and f"bundle {test_bundle.bundle_id[:12]}" in line
    assert "learned from 20 photos" in line
    assert main(["profiles", "--album", str(other)]) == 0
    assert capsys.readouterr().out == ""

    out = tmp_path / "mine.profile"
    assert main(["profiles", "--album", str(wedding), "--save", "mine", "--out", str(out)]) == 0
    assert torch.equal(Profile.load(out).alpha, profile.alpha)
    assert main(["profiles", "--album", str(wedding), "--save", "theirs", "--out", str(out)]) == 2
    assert "has no profile named “theirs” (its profiles: “mine”)" in capsys.readouterr().err
    assert main(["profiles", "--save", "mine", "--out", str(out)]) == 2
    assert "--save needs --album" in capsys.readouterr().err


def test_the_bundle_id_is_read_from_the_manifest_alone(test_bundle, tmp_path):
    assert bundle_id_at(test_bundle.path) == test_bundle.bundle_id
    assert bundle_id_at(tmp_path) is None and bundle_id_at(None) is None
    (tmp_path / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    assert bundle_id_at(tmp_path) is None


def _rate(folder: Path, stars: list[int], comparisons: int = 0) -> Library:
    library = Library.open_for_album(folder)
    index_album(library)
    photos = library.photos()
    for photo, given in zip(photos, stars):
        library.set_rating(photo.id, stars=given)
    chain = photos[-(comparisons + 1) :] if comparisons else []
    for better, worse in itertools.pairwise(chain):  # each better than the next
        library.add_comparison(better.id, worse.id, "a")
    return library


def test_answers_of_the_other_albums_latest_first_whole_and_in_place(libraries, tmp_path):
    old, recent, big, gone = (
        _album(tmp_path, name, 12, seed=n) for n, name in enumerate(("old", "recent", "big", "gone"))
    )
    nested = _album(tmp_path / "new", "day2", 4, seed=9)  # an album inside the open one
    new = tmp_path / "new"
    for folder, stars, compared in ((old, [1, 3, 5, 2], 0), (gone, [4, 4], 0), (big, [1, 2, 3, 4, 5] * 2, 0)):
        _rate(folder, stars, compared).close()
        time.sleep(0.02)
    _rate(nested, [5, 1]).close()
    time.sleep(0.02)
    _rate(recent, [2, 5], comparisons=3).close()
    (old / "IMG_0000.jpg").unlink()  # deleted since it was rated
    shutil.rmtree(gone)  # a drive unplugged

    found = answers_elsewhere(libraries, new, limit=12)
    # The latest first; "big" (10 photos) would pass the limit after "recent" and "day2"'s photos are the open
    # album's own; "old" still fits.
    assert found.albums == [recent.resolve(), old.resolve()] and found.unreachable == [gone.resolve()]
    rated = {(path.parent.name, path.name): stars for path, stars in found.rated}
    assert rated == {
        ("recent", "IMG_0000.jpg"): 2.0,
        ("recent", "IMG_0001.jpg"): 5.0,
        ("old", "IMG_0001.jpg"): 3.0,
        ("old", "IMG_0002.jpg"): 5.0,
        ("old", "IMG_0003.jpg"): 2.0,
    }
    compared = [(a.name[4:8], b.name[4:8]) for a, b in found.pairs]
    assert compared == [("0008", "0009"), ("0009", "0010"), ("0010", "0011")]
    assert found.summary() == {"ratings": 5, "comparisons": 3, "photos": 2 + 4 + 3, "albums": 2, "unreachable": 1}
    assert answers_elsewhere(libraries, new).albums == [recent.resolve(), big.resolve(), old.resolve()]


def test_a_profile_learns_from_the_other_albums_and_says_so(libraries, tmp_path, test_bundle):
    other, new = _album(tmp_path, "other", 14, seed=3), _album(tmp_path, "new", 14, seed=4)
    _rate(other, [5, 4, 3, 2, 1] * 2 + [3, 1], comparisons=2).close()
    library = _rate(new, [1, 2, 3, 4, 5, 3] * 2)
    model = curation.open_model(test_bundle.path, "cpu")
    everywhere = answers_elsewhere(libraries, new)
    assert len(curation.judged_photos(library, everywhere)) == 12 + 14
    assert curation.score_rated_photos_ahead(library, model, elsewhere=everywhere) == 26  # before the press
    result = curation.personalize_album(library, model, "all", elsewhere=everywhere)
    assert result.k == 26 and result.comparisons == 2
    assert result.elsewhere == {"ratings": 12, "comparisons": 2, "photos": 14, "albums": 1, "unreachable": 0}
    told = learned_from(result.k, result.comparisons, result.progress.answers, result.elsewhere)
    assert told == "12 ratings, and 12 ratings and 2 comparisons in 1 other album"
    readiness = curation.rating_readiness(library)  # this album's answers: all learned from
    assert result.progress.since(readiness.answers, readiness.digest) == "learned from all your answers"
    alone = curation.personalize_album(library, model, "here")
    assert alone.k == 12 and alone.elsewhere is None
    library.close()

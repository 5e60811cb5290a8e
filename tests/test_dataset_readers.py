"""Each dataset reader on a small fake tree in that dataset's published layout, and the csv reader on LIVE-C."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aesthetic_curator.factory.datasets import (
    TEST,
    TRAIN,
    DatasetError,
    parse_task_source,
    read_dataset,
    seeded_split,
    split_by_column,
)


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), i * 7 % 255, dtype=np.uint8)).save(folder / name)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _read(spec: str):
    return read_dataset(parse_task_source(spec), seed=0, test_fraction=0.25)


def test_ava_layout_votes_official_split_and_semantic_tags(tmp_path):
    root = tmp_path / "AVA"
    lines, ids = [], [str(1000 + i) for i in range(12)]
    for i, image_id in enumerate(ids):
        votes = [0] * 10
        votes[i % 10] = 3  # every vote on score (i % 10) + 1
        votes[9] += 1
        tags = (15, 0) if i % 2 else (15, 21)
        lines.append(" ".join(map(str, [i + 1, image_id, *votes, *tags, 700 + i % 3])))
    lines.append(" ".join(map(str, [99, "9999", *([0] * 10), 0, 0, 1])))  # no votes: left out
    root.mkdir()
    (root / "AVA.txt").write_text("\n".join(lines) + "\n")
    (root / "tags.txt").write_text("15 Nature\n21 Landscape\n")
    (root / "aesthetics_image_lists").mkdir()
    (root / "aesthetics_image_lists" / "generic_test.jpgl").write_text("1000\n1003\n1006\n")
    _images(root / "images", [f"{i}.jpg" for i in ids])

    data = _read(f"ava=ava:{root}")
    assert data.title == "AVA" and data.score_range == (1.0, 10.0) and data.official_split
    assert len(data.items) == 12
    first = data.items[0]
    assert first.path == root / "images" / "1000.jpg"
    assert first.score == pytest.approx((3 * 1 + 1 * 10) / 4)
    assert {item.path.stem for item in data.test} == {"1000", "1003", "1006"}
    assert first.groups["semantic_tag"] == ("Nature", "Landscape")

    tasks = dict(split_by_column("ava", data, "semantic_tag", min_images=2))
    assert set(tasks) == {"ava-nature", "ava-landscape"}
    assert len(tasks["ava-nature"].items) == 12 and len(tasks["ava-landscape"].items) == 6
    assert "Landscape" in tasks["ava-landscape"].title
    with pytest.raises(DatasetError, match="cannot split by 'style'"):
        split_by_column("ava", data, "style", min_images=2)


def test_flickr_aes_mean_score_file_or_worker_means(tmp_path):
    root = tmp_path / "FLICKR-AES"
    names = [f"farm1_{i}.jpg" for i in range(20)]
    _images(root / "40K", names)
    rows = [[f"A{w}", name, 1 + (i + w) % 5] for i, name in enumerate(names) for w in range(3)]
    _write_csv(root / "FLICKR-AES_image_labeled_by_each_worker.csv", ["worker", "imagePair", "score"], rows)
    data = _read(f"aes=flickr-aes:{root}")
    assert data.score_range == (1.0, 5.0) and not data.official_split
    by_name = {item.path.name: item.score for item in data.items}
    assert by_name["farm1_0.jpg"] == pytest.approx((1 + 2 + 3) / 3)
    assert data.train and data.test

    (root / "FLICKR-AES_image_score.txt").write_text("\n".join(f"{n} {1 + i / 10}" for i, n in enumerate(names)))
    data = _read(f"aes=flickr-aes:{root}")
    assert {item.path.name: item.score for item in data.items}["farm1_3.jpg"] == pytest.approx(1.3)

    excluded = tmp_path / "test_workers_images.csv"
    _write_csv(excluded, ["image"], [[n] for n in names[:5]])
    data = _read(f"aes=flickr-aes:{root},exclude={excluded}")
    assert len(data.items) == 15 and "farm1_0.jpg" not in {i.path.name for i in data.items}


def test_tad66k_published_train_and_test_csvs(tmp_path):
    root = tmp_path / "TAD66K"
    names = [f"{i}.jpg" for i in range(10)]
    _images(root / "images", names)
    _write_csv(root / "labels" / "merge" / "train.csv", ["image", "score"], [[n, 5.5] for n in names[:7]])
    _write_csv(root / "labels" / "merge" / "test.csv", ["image", "score"], [[n, 4.0] for n in names[7:]])
    data = _read(f"tad=tad66k:{root}")
    assert data.official_split and len(data.train) == 7 and len(data.test) == 3
    assert data.score_range == (0.0, 10.0)
    assert data.items[0].path == root / "images" / "0.jpg"


def test_para_sessions_semantic_column_and_split(tmp_path):
    root = tmp_path / "PARA"
    header = ["userId", "sessionId", "imageName", "aestheticScore_mean", "semantic"]
    train = [["u", f"session{i % 2}", f"img{i}.jpg", 2.5 + i / 10, "portrait" if i % 2 else "animal"] for i in range(8)]
    test = [["u", "session9", f"t{i}.jpg", 3.0, "portrait"] for i in range(3)]
    _write_csv(root / "annotation" / "PARA-GiaaTrain.csv", header, train)
    _write_csv(root / "annotation" / "PARA-GiaaTest.csv", header, test)
    _images(root / "imgs", [f"{r[1]}/{r[2]}" for r in train + test])
    data = _read(f"para=para:{root}")
    assert data.score_range == (1.0, 5.0) and len(data.train) == 8 and len(data.test) == 3
    assert data.items[1].path == root / "imgs" / "session1" / "img1.jpg"
    assert data.items[1].score == pytest.approx(2.6)
    tasks = dict(split_by_column("para", data, "semantic", min_images=3))
    assert set(tasks) == {"para-portrait"}  # "animal" has no test image: it cannot be a task, and says so
    assert len(tasks["para-portrait"].items) == 7


def test_koniq10k_scores_and_published_sets(tmp_path):
    root = tmp_path / "koniq10k"
    names = [f"{i}.jpg" for i in range(10)]
    _images(root / "1024x768", names)
    header = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"]
    rows = [[n, 0, 0, 0, 0, 0, 0, 3.25, 0.5, 60] for n in names]
    _write_csv(root / "koniq10k_scores_and_distributions.csv", header, rows)
    data = _read(f"koniq=koniq10k:{root}")
    assert not data.official_split and data.score_range == (1.0, 5.0)  # seeded without the sets file
    sets = [[n, 3.25, "test" if i < 2 else "validation" if i == 2 else "training"] for i, n in enumerate(names)]
    _write_csv(root / "koniq10k_distributions_sets.csv", ["image_name", "MOS", "set"], sets)
    data = _read(f"koniq=koniq10k:{root}")
    assert data.official_split and {i.path.name for i in data.test} == {"0.jpg", "1.jpg"}
    assert len(data.train) == 8 and data.items[0].score == 3.25


def test_spaq_excel_sheet_and_csv_export(tmp_path):
    from openpyxl import Workbook

    root = tmp_path / "SPAQ"
    names = [f"{i:05d}.jpg" for i in range(1, 13)]
    _images(root / "TestImage", names)
    (root / "Annotations").mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(["Image name", "MOS", "Brightness", "Colorfulness"])
    for i, name in enumerate(names):
        sheet.append([name, 10.0 + 7 * i, 50, 50])
    book.save(root / "Annotations" / "MOS and Image attribute scores.xlsx")
    data = _read(f"spaq=spaq:{root}")
    assert data.score_range == (0.0, 100.0) and len(data.items) == 12 and not data.official_split
    assert {i.path.name: i.score for i in data.items}["00002.jpg"] == 17.0
    assert data.items[0].path == root / "TestImage" / "00001.jpg"


def test_csv_reader_on_the_livec_sample(livec):
    data = _read(f"livec=csv:{livec / 'scores.csv'}")  # columns image,mos,std: the score column is found
    assert len(data.items) == 400
    assert all(item.path.is_file() for item in data.items[:10])  # found in the images/ subfolder
    scores = [item.score for item in data.items]
    assert data.score_range == (min(scores), max(scores))  # inferred when no range= is given
    assert 0.15 < len(data.test) / 400 < 0.35  # seeded 25% split
    assert data.items[0].groups == {"std": ("20.4016",)}  # other columns can be split by

    given = _read(f"livec=csv:{livec / 'scores.csv'},range=0:100,score=std")
    assert given.score_range == (0.0, 100.0) and given.items[0].score == pytest.approx(20.4016)
    assert [i.split for i in given.items] == [i.split for i in data.items]  # split depends on names only


def test_csv_split_column_and_seeded_split_is_stable(tmp_path):
    names = [f"p{i}.png" for i in range(40)]
    _images(tmp_path / "photos", names)
    rows = [[n, i % 7, "test" if i % 4 == 0 else "train"] for i, n in enumerate(names)]
    _write_csv(tmp_path / "mine.csv", ["image", "score", "split"], rows)
    data = _read(f"mine=csv:{tmp_path / 'mine.csv'},images={tmp_path / 'photos'}")
    assert data.official_split and len(data.test) == 10

    splits = {n: seeded_split(n, 3, 0.2) for n in names}
    shuffled = names[:]
    random.Random(1).shuffle(shuffled)
    assert {n: seeded_split(n, 3, 0.2) for n in shuffled} == splits
    assert set(splits.values()) == {TRAIN, TEST}


def test_bad_specs_and_layouts_get_clear_messages(tmp_path):
    with pytest.raises(DatasetError, match="NAME=READER:PATH"):
        parse_task_source("ava:/data")
    with pytest.raises(DatasetError, match="unknown reader 'imagenet'"):
        parse_task_source("x=imagenet:/data")
    with pytest.raises(DatasetError, match="does not exist"):
        _read(f"ava=ava:{tmp_path / 'missing'}")
    with pytest.raises(DatasetError, match=r"cannot find AVA\.txt"):
        (tmp_path / "empty").mkdir()
        _read(f"ava=ava:{tmp_path / 'empty'}")
    with pytest.raises(DatasetError, match="unknown option"):
        _read(f"x=csv:{tmp_path / 'a.csv'},colour=red")
    names = [f"{i}.jpg" for i in range(10)]
    _write_csv(tmp_path / "s.csv", ["image", "score"], [[n, i] for i, n in enumerate(names)])
    with pytest.raises(DatasetError, match="none of the sampled images exist"):
        _read(f"x=csv:{tmp_path / 's.csv'}")
    source = parse_task_source("mine=csv:/data/my, odd folder/s.csv,range=1:5,score=mos")
    assert source.path == Path("/data/my, odd folder/s.csv") and source.options == {"range": "1:5", "score": "mos"}

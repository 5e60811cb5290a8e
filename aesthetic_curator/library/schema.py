"""The album library's SQLite schema: the migrations that build it and what every open checks."""

from __future__ import annotations

#: Schema migrations; entry i brings a database from version i to i + 1. Append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE album (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        relpath TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        format TEXT NOT NULL,
        missing INTEGER NOT NULL DEFAULT 0,
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX photos_hash ON photos (content_hash, size);
    CREATE TABLE ratings (
        photo_id INTEGER PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
        stars INTEGER CHECK (stars IS NULL OR stars BETWEEN 1 AND 5),
        flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN (-1, 0, 1)),
        source TEXT NOT NULL DEFAULT 'user',
        rated_at REAL NOT NULL
    );
    CREATE TABLE profiles (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        bundle_id TEXT NOT NULL,
        data BLOB NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE TABLE scores (
        profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        score REAL NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (profile_id, photo_id)
    );
    """,
    # 2: pairwise comparisons ("which of these two?"), kept like ratings: by photo id, so they survive
    # re-scans, moves and renames; a photo that disappears takes its comparisons with it.
    """
    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        photo_a INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        photo_b INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        outcome TEXT NOT NULL CHECK (outcome IN ('a', 'b', 'tie')),
        answered_at REAL NOT NULL,
        CHECK (photo_a != photo_b)
    );
    CREATE INDEX comparisons_photos ON comparisons (photo_a, photo_b);
    """,
    # 3: earlier versions of hand-shaped profiles (with their scores, so undo is instant), the plain
    # average's scores per bundle (for "hidden gems"), and what burst grouping reads from each photo.
    """
    CREATE TABLE profile_versions (
        id INTEGER PRIMARY KEY,
        profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        data BLOB NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        saved_at REAL NOT NULL
    );
    CREATE TABLE version_scores (
        version_id INTEGER NOT NULL REFERENCES profile_versions (id) ON DELETE CASCADE,
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        score REAL NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (version_id, photo_id)
    );
    CREATE TABLE reference_scores (
        bundle_id TEXT NOT NULL,
        photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        score REAL NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (bundle_id, photo_id)
    );
    CREATE TABLE photo_features (
        photo_id INTEGER PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        taken REAL,
        taken_source TEXT NOT NULL,
        phash TEXT
    );
    """,
    # 4: colour labels (Lightroom's 6-9 keys, XMP's xmp:Label), apart from ratings: a label says nothing
    # about taste, so a labelled photo is not a rated one for personalization, Suggest or the rated count.
    """
    CREATE TABLE labels (
        photo_id INTEGER PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
        label TEXT NOT NULL CHECK (label IN ('red', 'yellow', 'green', 'blue', 'purple')),
        labelled_at REAL NOT NULL
    );
    """,
    # 5: RAW+JPEG pairs are one photo: the JPEG's row names the RAW beside it (its file name, same folder).
    """
    ALTER TABLE photos ADD COLUMN companion TEXT;
    """,
    # 6: each photo's sharpness (focus.photo_sharpness) for the Sharpness sort, measured once per content.
    """
    CREATE TABLE sharpness (
        photo_id INTEGER PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        share REAL
    );
    """,
    # 7: RAW previews are shown upright since (``images._held_upright``); a lone RAW's perceptual hash and its
    # plain-average score were read from the preview as the sensor saw it (a portrait on its side), so they
    # are read again: the hash on the next burst grouping, the plain average on the next hidden-gems look.
    """
    UPDATE photo_features SET content_hash = '' WHERE photo_id IN (SELECT id FROM photos WHERE format = 'RAW');
    DELETE FROM reference_scores WHERE photo_id IN (SELECT id FROM photos WHERE format = 'RAW');
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

#: What the current schema must contain, checked on every open.
EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "album": ("key", "value"),
    "photos": (
        "id",
        "relpath",
        "size",
        "mtime_ns",
        "content_hash",
        "format",
        "missing",
        "added_at",
        "updated_at",
        "companion",
    ),
    "ratings": ("photo_id", "stars", "flag", "source", "rated_at"),
    "profiles": ("id", "name", "bundle_id", "data", "metadata", "created_at"),
    "scores": ("profile_id", "photo_id", "score", "rank"),
    "comparisons": ("id", "photo_a", "photo_b", "outcome", "answered_at"),
    "profile_versions": ("id", "profile_id", "data", "metadata", "saved_at"),
    "version_scores": ("version_id", "photo_id", "score", "rank"),
    "reference_scores": ("bundle_id", "photo_id", "score", "rank"),
    "photo_features": ("photo_id", "content_hash", "taken", "taken_source", "phash"),
    "labels": ("photo_id", "label", "labelled_at"),
    "sharpness": ("photo_id", "content_hash", "share"),
}

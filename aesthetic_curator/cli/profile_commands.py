"""``aesthetic-curator profiles``: the profiles taught in the app's albums, and a profile's file for ``rank``.

A profile made in the window lives in its album's library; this command lists them all (or one album's) and
writes one's small file, so the command line can rank any folder by a taste taught in the app
(``rank --profile FILE``) without opening the window to export it.
"""

from __future__ import annotations

import argparse

from aesthetic_curator.atomic import atomic_write_bytes
from aesthetic_curator.cli.output import say
from aesthetic_curator.errors import CuratorError


def cmd_profiles(args: argparse.Namespace) -> int:
    from aesthetic_curator.builtin_model import builtin_bundle_path
    from aesthetic_curator.engine.profile import Profile
    from aesthetic_curator.library.other_albums import profile_file_bytes, profiles_elsewhere
    from aesthetic_curator.library.store import libraries_dir
    from aesthetic_curator.model_setup import bundle_id_at
    from aesthetic_curator.profile_editing import describe_elsewhere

    if (args.save is None) != (args.out is None):
        raise CuratorError("--save NAME and --out FILE go together (and --save needs --album)")
    if args.save is not None and args.album is None:
        raise CuratorError("--save needs --album: the album whose profile to write")
    found = profiles_elsewhere(libraries_dir())
    if args.album is not None:
        album = args.album.expanduser().resolve()
        found = [profile for profile in found if profile.album == album]
    if args.save is not None:
        chosen = next((profile for profile in found if profile.name == args.save), None)
        if chosen is None:
            names = ", ".join(sorted(f"“{profile.name}”" for profile in found)) or "none"
            raise CuratorError(f"{args.album} has no profile named “{args.save}” (its profiles: {names})")
        data = profile_file_bytes(chosen)
        Profile.from_bytes(data, f"the profile “{chosen.name}”")  # a damaged stored profile is refused
        say(f"profile “{chosen.name}” of {chosen.album} written to {atomic_write_bytes(args.out, data)}")
        return 0
    if not found:
        where = f"{args.album} has no profile" if args.album is not None else "no album has a profile"
        say(f"{where} yet: rate photos in an album in the app and press Personalize to make one")
        return 0
    builtin = bundle_id_at(builtin_bundle_path())
    for profile in found:
        model = "built-in model" if profile.bundle_id == builtin else f"bundle {profile.bundle_id[:12]}"
        learned = describe_elsewhere(profile)
        print(f"{profile.name}\t{profile.album}\t{profile.made()}\t{model}" + (f"\t{learned}" if learned else ""))
    return 0

"""Carrying a data archive in parts: cut it into md5-listed parts and join them back, checked.

For machines reached through transfers of limited size: ``python -m lbsm data split`` cuts the
official archive into parts of at most 45 MB with ``parts.md5`` (the md5 of every part, then of
the whole archive); ``data reassemble`` checks every part, joins them, checks the whole and unpacks
it into the data directory. ``parts.md5`` is input: a name in it that leads out of its folder is
refused. The joined archive is written to a new temporary file and renamed into place only once
its md5 holds: a killed join leaves no archive that looks whole, and a link placed in the folder
under the archive's name is replaced, never written through.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from .datadir import DataError, extract_archive, md5, write_error

PARTS_MD5 = "parts.md5"


def split(archive: str | os.PathLike, out: str | os.PathLike, part_mb: float = 45) -> list[Path]:
    """Cut ``archive`` into parts of at most ``part_mb`` MB (for machines reached through
    transfers of limited size), with ``parts.md5``: the md5 of every part and of the whole."""
    archive, out = Path(archive), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    size, parts, lines = int(part_mb * 10**6), [], []
    p = out / PARTS_MD5
    try:
        with open(archive, "rb") as f:
            while chunk := f.read(size):
                p = out / f"{archive.name}.part{len(parts):02d}"
                p.write_bytes(chunk)
                parts.append(p)
                lines.append(f"{hashlib.md5(chunk).hexdigest()}  {p.name}")
        lines.append(f"{md5(archive)}  {archive.name}")
        p = out / PARTS_MD5
        p.write_text("\n".join(lines) + "\n")
    except OSError as exc:
        if exc.filename and Path(exc.filename) == archive:
            raise DataError(f"{archive}: {exc.strerror or exc}; give the official archive") from None
        raise write_error(exc, p, "splitting the archive", "pass another --parts folder") from None
    return parts


def read_parts_md5(listing: Path) -> list[tuple[str, str]]:
    """(md5, file name) per line of ``parts.md5``: the parts, then the whole archive. Each name
    must be a plain file name in the listing's folder (no folder, no ``..``, not absolute): a
    listing is input, and a name like ``../../x`` would make reassemble write outside it."""
    try:
        lines = [line for line in listing.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{listing}: unreadable ({exc}); copy parts.md5 again") from None
    entries = []
    for i, line in enumerate(lines, 1):
        m = re.fullmatch(r"([0-9a-f]{32}) [ *]?([A-Za-z0-9._+-]+)", line.strip())
        if not m or m.group(2) in (".", "..", PARTS_MD5):
            raise DataError(f"{listing} line {i}: {line[:80]!r} is not 'MD5  FILENAME' with a plain "
                            "file name in this folder; write it anew with `python -m lbsm data split`")
        entries.append((m.group(1), m.group(2)))
    if len(entries) < 2:
        raise DataError(f"{listing}: {len(entries)} line(s); it must list at least one part and, "
                        "last, the whole archive (as `python -m lbsm data split` writes it)")
    names = [n for _, n in entries]
    if len(set(names)) != len(names):
        raise DataError(f"{listing}: a file name appears twice; write it anew with `data split`")
    for name in names:  # also refuses a name that is a link pointing out of the folder
        if not (listing.parent / name).resolve().is_relative_to(listing.parent.resolve()):
            raise DataError(f"{listing}: {name} resolves outside {listing.parent}; refused")
    return entries


def reassemble(parts_dir: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Join the parts of :func:`split` found in ``parts_dir``, check every md5 (each part, the
    whole archive), and unpack the archive into the data directory; returns the archive."""
    parts_dir = Path(parts_dir)
    listing = parts_dir / PARTS_MD5
    if not listing.is_file():
        raise DataError(f"{listing} is missing: copy parts.md5 with the parts (see README, On a GPU)")
    *parts, (whole_md5, whole_name) = read_parts_md5(listing)
    missing = [name for _, name in parts if not (parts_dir / name).is_file()]
    if missing:
        raise DataError(f"{parts_dir}: missing part(s) {', '.join(missing)}; copy every part first")
    for want, name in parts:
        if md5(parts_dir / name) != want:
            raise DataError(f"{parts_dir / name}: md5 mismatch (damaged in transfer); copy it again")
    archive = parts_dir / whole_name
    fd, tmp = tempfile.mkstemp(dir=parts_dir, prefix=f".{whole_name}.", suffix=".tmp")
    h = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as f:
            for _, name in parts:
                with open(parts_dir / name, "rb") as part:
                    while block := part.read(1 << 20):
                        h.update(block)
                        f.write(block)
        if h.hexdigest() != whole_md5:
            raise DataError(f"{archive}: md5 {h.hexdigest()} after joining, expected {whole_md5}; "
                            "nothing was written (copy the parts and parts.md5 again)")
        os.replace(tmp, archive)  # a new file under the name: a link there is replaced, not written
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(exc, archive, "joining the parts", "copy the parts to another "
                              "disk and pass --parts there") from None
        raise
    extract_archive(archive, root)
    return archive

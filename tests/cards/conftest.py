"""Helpers for the editor, import and export tests: files to import, built by hand or
by the real Anki (the `anki` package from PyPI, a test dependency)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

HTMX = {"HTTP_HX_REQUEST": "true"}


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (79, 70, 229)) -> bytes:
    """A real, tiny PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def build_anki_package(folder: Path, *, legacy: bool, image: bytes) -> bytes:
    """An .apkg exported by real Anki: Basic, Basic (and reversed card), Cloze, an image.

    ``legacy`` exports collection.anki21 (schema 11, media listed as JSON); otherwise
    current Anki's collection.anki21b with zstd-compressed media and a protobuf media list.
    """
    from anki.collection import Collection, ExportAnkiPackageOptions

    folder.mkdir(parents=True, exist_ok=True)
    col = Collection(str(folder / "collection.anki2"))
    try:
        attention = col.decks.id("Interview::Attention")
        optimisers = col.decks.id("Optimisers")
        assert attention is not None
        assert optimisers is not None
        source = folder / "attention diagram.png"
        source.write_bytes(image)
        media = col.media.add_file(str(source))

        basic = col.new_note(col.models.by_name("Basic"))  # type: ignore[arg-type]
        basic["Front"] = "What does <b>attention</b> compute? \\(\\frac{QK^\\top}{\\sqrt{d_k}}\\)"
        basic["Back"] = f'A weighted sum of values.<br><img src="{media}"><br>Costs $5 a day'
        basic.tags = ["ML", "attention"]
        col.add_note(basic, attention)

        reverse = col.new_note(col.models.by_name("Basic (and reversed card)"))  # type: ignore[arg-type]
        reverse["Front"] = "KV cache"
        reverse["Back"] = "Keys and values kept from earlier tokens"
        col.add_note(reverse, attention)

        cloze = col.new_note(col.models.by_name("Cloze"))  # type: ignore[arg-type]
        cloze["Text"] = "{{c1::Adam}} keeps {{c2::two moment estimates::how many}} per weight"
        cloze["Back Extra"] = "\\[m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t\\]"
        cloze.tags = ["optimisers"]
        col.add_note(cloze, optimisers)

        out = folder / ("legacy.apkg" if legacy else "latest.apkg")
        col.export_anki_package(
            out_path=str(out),
            options=ExportAnkiPackageOptions(
                with_scheduling=False, with_deck_configs=False, with_media=True, legacy=legacy
            ),
            limit=None,
        )
    finally:
        col.close()
    return out.read_bytes()


@pytest.fixture(scope="session")
def anki_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("anki")
    image = png()
    return {
        "legacy": build_anki_package(folder / "legacy", legacy=True, image=image),
        "latest": build_anki_package(folder / "latest", legacy=False, image=image),
        "image": image,
    }


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client: Client, name: str, data: bytes, **extra: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    return client.post(reverse("import_upload"), {"file": SimpleUploadedFile(name, data), **extra})

"""The files port: round trips, unguessable keys, no path traversal, atomic 0o600 writes."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from mengchong.config import FilesSettings
from mengchong.storage.files import FileStore, is_key, open_files

VALID = "A" * 16 + "z9_-" * 4  # 32 characters of the token alphabet


@pytest.fixture
async def store(tmp_path: Path) -> FileStore:
    store = open_files(FilesSettings(root=str(tmp_path / "files")))
    await store.open()
    return store


def all_names(root: Path) -> list[str]:
    return sorted(name for _, dirs, files in os.walk(root) for name in (*dirs, *files))


def file_names(root: Path) -> list[str]:
    return sorted(name for _, _, files in os.walk(root) for name in files)


async def test_round_trip(store: FileStore) -> None:
    data = bytes(range(256)) * 100
    key = await store.put(data, suffix=".jpg")
    assert key.endswith(".jpg")
    assert await store.get(key) == data
    assert await store.exists(key)
    empty = await store.put(b"")
    assert await store.get(empty) == b""


async def test_keys_are_long_distinct_and_sharded(store: FileStore) -> None:
    keys = await asyncio.gather(*(store.put(b"same bytes") for _ in range(50)))
    assert len(set(keys)) == 50
    for key in keys:
        assert len(key) >= 32
        assert is_key(key)
        assert "/" not in key
        assert store.path(key) == store.root / key[:2] / key
        assert store.path(key).is_file()


async def test_files_and_directories_are_private(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "deep" / "files")
    await store.open()
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    previous = os.umask(0)  # even a permissive umask gives 0o600 files
    try:
        key = await store.put(b"photo")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.path(key).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path(key).parent.stat().st_mode) == 0o700


BAD_KEYS = [
    "",
    ".",
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "ab/../../../etc/passwd",
    f"{VALID}/x",
    f"{VALID[:2]}/{VALID}",
    f"../{VALID}",
    f"{VALID}/..",
    f"{VALID[:-2]}..",
    f"..{VALID[2:]}",
    f"{VALID[:-1]}\\",
    f"{VALID[:-1]}/",
    f"{VALID}\x00.jpg",
    f"{VALID}\n",
    f"{VALID} ",
    f"{VALID}.",
    f"{VALID}..",
    f"{VALID}.JPG",
    f"{VALID}.jpg.png",
    f"{VALID}.abcdefghijk",
    f"{VALID}.j/g",
    VALID[:-1],
    VALID + "a",
    "ａ" * 32,  # full-width letters
    "é" * 32,
    "%2e%2e%2f" * 4,
    f".tmp-{VALID[5:]}",
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_keys_not_of_our_shape_are_refused(store: FileStore, key: str) -> None:
    assert not is_key(key)
    with pytest.raises(ValueError, match="not a file key"):
        store.path(key)
    with pytest.raises(ValueError, match="not a file key"):
        await store.get(key)
    with pytest.raises(ValueError, match="not a file key"):
        await store.exists(key)
    with pytest.raises(ValueError, match="not a file key"):
        await store.delete(key)


@pytest.mark.parametrize("key", [None, b"x" * 32, 42])
def test_keys_that_are_not_text_are_refused(key: object) -> None:
    with pytest.raises(ValueError, match="not a file key"):
        FileStore(Path("files")).path(key)  # type: ignore[arg-type]


async def test_a_valid_key_stays_inside_the_root(store: FileStore) -> None:
    for key in (VALID, VALID + ".png", "-" * 32, "_" * 32 + ".webp"):
        resolved = store.path(key).resolve()
        assert resolved.is_relative_to(store.root.resolve())


@pytest.mark.parametrize("suffix", ["jpg", ".JPG", "/../x", ".", ".j p", ".jpg/..", "..", ".abcdefghijk"])
async def test_bad_suffixes_are_refused(store: FileStore, suffix: str) -> None:
    with pytest.raises(ValueError, match="suffix"):
        await store.put(b"x", suffix=suffix)
    assert all_names(store.root) == []


async def test_unknown_keys(store: FileStore) -> None:
    with pytest.raises(FileNotFoundError):
        await store.get(VALID)
    assert not await store.exists(VALID)
    assert not await store.delete(VALID)


async def test_delete(store: FileStore) -> None:
    key = await store.put(b"bye")
    assert await store.delete(key)
    assert not await store.exists(key)
    assert not await store.delete(key)
    with pytest.raises(FileNotFoundError):
        await store.get(key)


async def test_writes_leave_no_temporary_files(store: FileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    await asyncio.gather(*(store.put(os.urandom(1000), suffix=".png") for _ in range(20)))
    names = file_names(store.root)
    assert len(names) == 20
    assert not [name for name in all_names(store.root) if name.startswith(".")]

    def failing_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        await store.put(b"half", suffix=".png")
    monkeypatch.undo()
    assert file_names(store.root) == names  # neither the temporary file nor a target remains


async def test_ping(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    with pytest.raises(FileNotFoundError):
        await store.ping()
    await store.open()
    await store.ping()
    assert all_names(store.root) == []  # the probe cleans up after itself

    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_bytes(b"")
    with pytest.raises(FileNotFoundError):
        await FileStore(not_a_directory).ping()


async def test_open_keeps_an_existing_root(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir(mode=0o750)
    (root / "keep.txt").write_text("operator's file")
    store = FileStore(root)
    await store.open()
    assert (root / "keep.txt").read_text() == "operator's file"
    await store.close()

"""Small files (run summaries, model artifacts) on any filesystem pyarrow knows.

Delta tables go through `mtlrec.tables`; this module is for the few JSON and model
files around them. Paths without a scheme are local; `s3a://` is read as `s3://`.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from pyarrow import fs


def absolute(path: str) -> str:
    """A local path made absolute; a URI with a scheme is returned unchanged."""
    return path if "://" in path else os.path.abspath(path)


def arrow_uri(uri: str) -> str:
    """The URI as Arrow, deltalake and Ray spell it: Hadoop's `s3a://` becomes `s3://`."""
    return "s3://" + uri[len("s3a://") :] if uri.startswith("s3a://") else uri


def _resolve(uri: str) -> tuple[fs.FileSystem, str]:
    uri = arrow_uri(uri)
    if "://" not in uri:
        return fs.LocalFileSystem(), os.path.abspath(uri)
    return fs.FileSystem.from_uri(uri)


def exists(uri: str) -> bool:
    filesystem, path = _resolve(uri)
    return filesystem.get_file_info(path).type != fs.FileType.NotFound


def write_bytes(uri: str, data: bytes) -> None:
    """Write `data` at `uri` all at once: a reader sees the old file or the new one, never half.

    Locally through a temporary file renamed over the target; an object store's PUT is
    already atomic (the object appears complete when the upload closes).
    """
    filesystem, path = _resolve(uri)
    filesystem.create_dir(os.path.dirname(path), recursive=True)
    local = isinstance(filesystem, fs.LocalFileSystem)
    target = f"{path}.tmp-{uuid.uuid4().hex}" if local else path
    with filesystem.open_output_stream(target) as out:
        out.write(data)
    if local:
        os.replace(target, path)


def read_bytes(uri: str) -> bytes:
    filesystem, path = _resolve(uri)
    try:
        with filesystem.open_input_stream(path) as stream:
            return bytes(stream.read())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no file at {uri}") from err


def write_json(uri: str, obj: Any) -> None:
    write_bytes(uri, json.dumps(obj, indent=2).encode())


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def _list(uri: str, kind: fs.FileType) -> list[str]:
    filesystem, path = _resolve(uri)
    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return []
    infos = filesystem.get_file_info(fs.FileSelector(path))
    return sorted(i.base_name for i in infos if i.type == kind)


def list_dirs(uri: str) -> list[str]:
    """Names of the folders directly under `uri` (empty if it does not exist)."""
    return _list(uri, fs.FileType.Directory)


def list_files(uri: str) -> list[str]:
    """Names of the files directly under `uri` (empty if it does not exist)."""
    return _list(uri, fs.FileType.File)


def copy_files_to_local(uri: str, local: str) -> list[str]:
    """Copy the files directly under the folder `uri` (not its subfolders) into the local
    folder `local`, for tools that read local files only; returns their names."""
    names = list_files(uri)
    if not names:
        raise FileNotFoundError(f"no files in {uri}")
    os.makedirs(local, exist_ok=True)
    for name in names:
        with open(os.path.join(local, name), "wb") as out:
            out.write(read_bytes(f"{uri.rstrip('/')}/{name}"))
    return names


def file_stats(uri: str) -> list[tuple[str, int, int]]:
    """(path below `uri`, size, mtime in ns) of every file under `uri`, sorted; empty if absent.

    Names starting with `_` or `.` are left out, as Hadoop and Spark leave them out of a read.
    """
    filesystem, path = _resolve(uri)
    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return []
    infos = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
    found = []
    for info in infos:
        below = os.path.relpath(info.path, path)
        if info.type != fs.FileType.File or any(part.startswith(("_", ".")) for part in below.split(os.sep)):
            continue
        found.append((below, int(info.size or 0), int(info.mtime_ns or 0)))
    return sorted(found)


def delete_dir(uri: str) -> None:
    filesystem, path = _resolve(uri)
    if filesystem.get_file_info(path).type != fs.FileType.NotFound:
        filesystem.delete_dir(path)

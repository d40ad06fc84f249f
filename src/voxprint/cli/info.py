"""``voxprint info``: which database, model, runtime, caches and data a command would use.

Everything is read from the options, the environment and the installed packages; no
model is loaded and no database is created (the CAM++ runtime is worked out the way
the encoder would pick it, without exporting or compiling the network).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from voxprint import __version__
from voxprint.cli.common import (
    DbOption,
    JsonOption,
    ModelOption,
    database_file,
    database_path,
    emit,
    fail_with,
    handles_errors,
    settings,
)
from voxprint.errors import InvalidParameterError, ModelError

if TYPE_CHECKING:
    from voxprint.settings import Settings


def _source(given: object, configured: object, option: str, variable: str) -> str:
    """Where a setting came from, in words."""
    return option if given is not None else variable if configured is not None else "default"


def _database(db: str | None) -> dict[str, Any]:
    path = database_file(db)
    return {
        "path": str(database_path(db)),
        "source": _source(db, settings().db, "--db", "VOXPRINT_DB"),
        "exists": None if path is None else path.is_file(),
        "size_bytes": path.stat().st_size if path is not None and path.is_file() else None,
    }


def _model(chosen: Settings) -> dict[str, Any]:
    from voxprint.encoders.campplus_selection import runtime_report
    from voxprint.encoders.registry import ENCODERS, OPTION_ENCODERS, checkpoint_path
    from voxprint.encoders.weights import CAMPPLUS_WEIGHTS, GE2E_WEIGHTS, find_weights

    model = chosen.model
    options = chosen.encoder_options()
    data: dict[str, Any] = {
        "name": model,
        "runtime": "torch",
        "requested_runtime": None,
        "runtime_note": None,
        "quantize": options.quantize or "none",
        "threads": options.num_threads,
        "weights": None,
    }
    if model in OPTION_ENCODERS:  # CAM++
        choice = runtime_report(options.runtime, options.quantize)
        data.update(
            runtime=choice.name,
            requested_runtime=options.runtime or "auto",
            runtime_note=f"{choice.source}: {choice.reason}",
        )
    sources = {
        "campplus": [CAMPPLUS_WEIGHTS],
        "ge2e": [GE2E_WEIGHTS],
        "campplus+ge2e": [CAMPPLUS_WEIGHTS, GE2E_WEIGHTS],
    }
    if model in sources:
        try:
            data["weights"] = "; ".join(str(find_weights(name)) for name in sources[model])
        except ModelError as error:
            data["weights"] = None
            data["runtime_note"] = error.message
            data["weights_error"] = error
    elif model not in ENCODERS:  # a trained checkpoint; an unknown name is an error
        data["weights"] = str(checkpoint_path(model))
    return data


def _phrases(chosen: Settings) -> dict[str, Any]:
    from voxprint.passphrase import RECOGNIZERS, auto_recognizer_name
    from voxprint.passphrase.whisper import whisper_installed

    name = chosen.phrase_recognizer
    if name not in RECOGNIZERS:
        known = ", ".join(sorted(RECOGNIZERS))
        raise InvalidParameterError(f"unknown phrase recogniser {name!r}; known: {known}")
    return {
        "recognizer": name,
        "runs": auto_recognizer_name() if name == "auto" else name,
        "source": "VOXPRINT_PHRASE_RECOGNIZER"
        if "phrase_recognizer" in chosen.model_fields_set
        else "default",
        "whisper_installed": whisper_installed(),
    }


def _phrase_text(phrases: dict[str, Any]) -> str:
    name, runs = phrases["recognizer"], phrases["runs"]
    return name if name == runs else f"{runs} ({name})"


def _caches() -> dict[str, str]:
    import platformdirs

    from voxprint.encoders.onnx_cache import default_onnx_cache_dir

    return {
        "onnx": str(default_onnx_cache_dir()),
        "voxprint": str(platformdirs.user_cache_path("voxprint")),
    }


def _data(chosen: Settings) -> dict[str, Any]:
    path = chosen.data_folder()
    return {
        "path": str(path.resolve()),
        "source": "VOXPRINT_DATA" if chosen.data is not None else "default",
        "exists": path.is_dir(),
    }


def _text(data: dict[str, Any]) -> str:
    db, model, data_root = data["database"], data["model"], data["data"]
    state = (
        "a non-file store"
        if db["exists"] is None
        else f"{db['size_bytes']} bytes"
        if db["exists"]
        else "does not exist yet (commands that write create it)"
    )
    runtime = model["runtime"]
    if model["requested_runtime"] and model["requested_runtime"] != runtime:
        runtime += f" (asked for {model['requested_runtime']})"
    if model["quantize"] != "none":
        runtime += f", quantize {model['quantize']}"
    if model["threads"]:
        runtime += f", {model['threads']} threads"
    lines = [
        f"voxprint {data['version']}",
        f"database:    {db['path']}  [{db['source']}; {state}]",
        f"model:       {model['name']}",
        f"runtime:     {runtime}",
    ]
    if model["runtime_note"]:
        lines.append(f"             ({model['runtime_note']})")
    phrases = data["phrases"]
    whisper = "installed" if phrases["whisper_installed"] else "not installed"
    lines += [
        f"weights:     {model['weights'] or '-'}",
        f"phrases:     {_phrase_text(phrases)}  [{phrases['source']}; whisper extra {whisper}]",
        f"onnx cache:  {data['cache']['onnx']}",
        f"user cache:  {data['cache']['voxprint']}",
        f"data:        {data_root['path']}  [{data_root['source']}; "
        f"{'found' if data_root['exists'] else 'not found'}]",
    ]
    return "\n".join(lines)


@handles_errors
def info(
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the database, model and runtime, cache folders and data folder in use.

    Give the same --db and --model (or VOXPRINT_* variables) as the command you are
    checking. Loads no model and creates no database.
    """
    chosen = settings(db=db, model=model)
    model_data = _model(chosen)
    missing: ModelError | None = model_data.pop("weights_error", None)
    data = {
        "version": __version__,
        "database": _database(db),
        "model": model_data,
        "phrases": _phrases(chosen),
        "cache": _caches(),
        "data": _data(chosen),
    }
    emit(json_output, data, lambda: _text(data))
    if missing is not None:  # shown above with the rest; the model cannot run, as a
        # missing checkpoint cannot (found in a walkthrough: exit 0 all the same)
        raise fail_with(missing, json_output=json_output)


def register(app: typer.Typer) -> None:
    app.command("info")(info)

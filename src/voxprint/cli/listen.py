"""``voxprint listen``: who is speaking, live, from the microphone or a recording.

Every ``--hop`` seconds the newest ``--window`` seconds of audio are scored (VAD
gated, :mod:`voxprint.live`); each result prints who is speaking and the score,
or ``unknown``, and marks a change of speaker. ``--file`` plays a recording at
real-time pace (``--speed 2`` twice as fast; ``--speed 0`` as fast as scoring
allows, scoring every hop). ``--server URL --api-key K`` sends the audio to a
voxprint service's ``/v1/ws/identify`` instead; ``--local-fallback`` uses the
local store when the server cannot be reached. At the end a summary gives the
latency from the last audio sample of a window to its result.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from voxprint.cli.common import DbOption, JsonOption, ModelOption, handles_errors, settings
from voxprint.cli.render import plural
from voxprint.errors import (
    AudioFileNotFoundError,
    InvalidParameterError,
    ServiceUnavailableError,
    VoxprintError,
)
from voxprint.live import (
    RATE,
    IdentifyScorer,
    LiveConfig,
    LiveEvent,
    LiveRecognizer,
    evaluate_window,
    float_to_pcm16,
)

#: Audio is read (and sent to a server) in blocks of this many seconds.
BLOCK_SECONDS = 0.1


class MicrophoneError(VoxprintError):
    """No PortAudio library, no input device, or the device refused to open."""

    code = "no_microphone"


@dataclass(frozen=True)
class Block:
    """Audio as it arrives: ``(n,) float32`` at 16 kHz, and the wall time of its last sample."""

    samples: np.ndarray
    arrived: float


def file_blocks(
    path: Path, speed: float, hop_seconds: float, seconds: float | None = None
) -> Iterator[Block]:
    """A recording (its first ``seconds`` only, when given), paced like a live source
    ``speed`` times real time (0: unpaced).

    Paced, whatever audio is due by now comes as one block, so a slow scorer
    skips to the newest audio as it would with a microphone. Unpaced, blocks are
    one hop long and every hop gets scored. The file is read before this returns.
    """
    from voxprint.audio import load_audio

    if not path.is_file():
        raise AudioFileNotFoundError(f"no such file: {path}")
    audio = load_audio(path, sample_rate=RATE)
    if seconds is not None:
        audio = audio[: round(seconds * RATE)]

    def unpaced() -> Iterator[Block]:
        step = round(hop_seconds * RATE)
        for start in range(0, len(audio), step):
            yield Block(audio[start : start + step], time.perf_counter())

    def paced() -> Iterator[Block]:
        block = round(BLOCK_SECONDS * RATE)
        start_time = time.perf_counter()
        sent = 0
        while sent < len(audio):
            due = min(len(audio), int((time.perf_counter() - start_time) * speed * RATE))
            due = block * (due // block) if due < len(audio) else due
            if due <= sent:
                wait = start_time + (sent + block) / (speed * RATE) - time.perf_counter()
                time.sleep(max(0.0, wait))
                continue
            yield Block(audio[sent:due], time.perf_counter())
            sent = due

    return unpaced() if speed <= 0 else paced()


def microphone_blocks(seconds: float | None) -> Iterator[Block]:
    """Live microphone audio (PortAudio through sounddevice), for ``seconds`` or until Ctrl-C.

    The device is opened before this returns, so a missing one fails at once.
    """
    try:
        import sounddevice
    except (OSError, ImportError) as error:  # the PortAudio shared library is missing
        raise MicrophoneError(
            f"no microphone: {error} (install PortAudio, e.g. libportaudio2, or use --file)"
        ) from None
    blocks: queue.Queue[Block] = queue.Queue()

    def callback(data: np.ndarray, _frames: int, _time: Any, _status: Any) -> None:
        blocks.put(Block(data[:, 0].copy(), time.perf_counter()))

    try:
        stream = sounddevice.InputStream(
            samplerate=RATE,
            channels=1,
            dtype="float32",
            blocksize=round(BLOCK_SECONDS * RATE),
            callback=callback,
        )
        stream.start()
    except Exception as error:  # PortAudioError, ValueError: no usable input device
        raise MicrophoneError(f"no microphone: {error}") from None

    def read() -> Iterator[Block]:
        deadline = None if seconds is None else time.perf_counter() + seconds
        try:
            while deadline is None or time.perf_counter() < deadline:
                parts = [blocks.get()]
                while not blocks.empty():
                    parts.append(blocks.get_nowait())
                yield Block(np.concatenate([p.samples for p in parts]), parts[-1].arrived)
        finally:
            stream.stop()
            stream.close()

    return read()


@dataclass
class Latencies:
    """Seconds from a window's last sample arriving to its result, per result."""

    values: list[float] = field(default_factory=list)
    final: float | None = None

    def summary(self) -> str:
        if not self.values:
            return "no results"
        ms = np.asarray(self.values) * 1000
        text = (
            f"{plural(len(ms), 'result')}; last sample → result: median {np.median(ms):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms"
        )
        if self.final is not None:
            text += f"; end of audio → final result {self.final * 1000:.0f} ms"
        return text


#: What an unknown window's line adds for its reason (``no_match``, nobody close enough,
#: is what "unknown" says on its own).
UNKNOWN_BECAUSE = {
    "look_alike": "does not stand out from other profiles",
    "insufficient_speech": "too little speech to tell",
}


class Printer:
    """Renders events: one line each (silence only right after speech), or JSON lines."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self.was_speaking = False

    def __call__(self, event: dict[str, Any], latency: float) -> None:
        if self.json_output:
            typer.echo(json.dumps({**event, "latency_ms": round(latency * 1000, 1)}))
            return
        speaking = bool(event["speaking"])
        stamp = f"[{event['audio_seconds']:7.1f} s]"
        final = "  (final)" if event["final"] else ""
        if not speaking:
            if self.was_speaking or event["final"]:
                typer.echo(f"{stamp} (silence){final}")
            self.was_speaking = False
            return
        self.was_speaking = True
        who = "unknown" if event["unknown"] else str(event["profile_name"])
        score = "" if event["score"] is None else f"  score {event['score']:.2f}"
        change = "  <- speaker change" if event["changed"] else ""
        alike = event.get("look_alike")
        rival = f"  (as close to {alike['profile_name']})" if alike else ""
        because = UNKNOWN_BECAUSE.get(event.get("reason") or "") if event["unknown"] else None
        why = f"  ({because})" if because else ""
        typer.echo(f"{stamp} {who}{score}{why}{rival}{change}{final}")


def run_local(
    blocks: Iterator[Block],
    config: LiveConfig,
    evaluate: Callable[..., Any],
    show: Callable[[dict[str, Any], float], None],
) -> Latencies:
    """Score the newest window whenever a hop of audio has arrived; then a final result."""
    recognizer = LiveRecognizer(config, evaluate)
    latencies = Latencies()
    last_arrival = time.perf_counter()
    for block in blocks:
        recognizer.push(block.samples)
        last_arrival = block.arrived
        window = recognizer.next_window()
        if window is None:
            continue
        event: LiveEvent = recognizer.record(evaluate(window))
        latency = time.perf_counter() - block.arrived
        latencies.values.append(latency)
        show(event.to_json(), latency)
    final = recognizer.final_event()
    latencies.final = time.perf_counter() - last_arrival
    show(final.to_json(), latencies.final)
    return latencies


def run_remote(
    blocks: Iterator[Block],
    url: str,
    api_key: str,
    window: float,
    show: Callable[[dict[str, Any], float], None],
    *,
    every_hop: bool = False,
) -> Latencies:
    """Stream the audio to a voxprint service's ``/v1/ws/identify`` and show its results.

    ``every_hop`` (a recording): the server scores every hop in order however fast the
    audio goes, as the local path does; else (a microphone) it keeps to the newest audio.
    """
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    latencies = Latencies()
    sent_at: dict[float, float] = {}  # audio seconds at the end of a block -> when it arrived
    errors: list[BaseException] = []
    connection = connect(
        f"{websocket_url(url)}/v1/ws/identify?window={window}"
        f"&every_hop={'true' if every_hop else 'false'}",
        additional_headers={"X-API-Key": api_key},
        open_timeout=5,
        max_size=2**20,
    )
    with connection:
        ready = json.loads(connection.recv(timeout=10))
        if ready.get("type") == "error":
            raise ServiceUnavailableError(f"the server refused: {ready['error']['message']}")
        last = {"arrived": time.perf_counter()}

        def send() -> None:
            samples = 0
            try:
                for block in blocks:
                    samples += len(block.samples)
                    sent_at[round(samples / RATE, 3)] = block.arrived
                    last["arrived"] = block.arrived
                    connection.send(float_to_pcm16(block.samples))
                connection.send(json.dumps({"event": "end"}))
            except ConnectionClosed:
                pass
            except BaseException as error:  # surfaced by the receiving thread
                errors.append(error)
                connection.close()

        sender = threading.Thread(target=send, name="voxprint-listen-send", daemon=True)
        sender.start()
        try:
            for raw in connection:
                message = json.loads(raw)
                if message.get("type") == "error":
                    typer.echo(f"server: {message['error']['message']}", err=True)
                    continue
                if message.get("type") != "result":
                    continue
                now = time.perf_counter()
                arrived = (
                    last["arrived"]
                    if message["final"]
                    else sent_at.get(message["audio_seconds"], now)
                )
                latency = now - arrived
                if message["final"]:
                    latencies.final = latency
                else:
                    latencies.values.append(latency)
                show(message, latency)
                if message["final"]:
                    break
        except ConnectionClosed:
            pass
        sender.join(timeout=1)
    if errors:
        raise errors[0]
    return latencies


def websocket_url(url: str) -> str:
    """``http(s)://host:port`` (or ``ws(s)://``) to the WebSocket base URL."""
    base = url.rstrip("/")
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(http):
            return ws + base[len(http) :]
    if base.startswith(("ws://", "wss://")):
        return base
    raise InvalidParameterError(f"--server must be an http(s):// or ws(s):// URL, not {url!r}")


@handles_errors
def listen(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Play this recording instead of the microphone."),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(min=0.0, help="--file pace: 1 = real time, 2 = twice as fast, 0 = unpaced."),
    ] = 1.0,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds",
            min=0.1,
            help="Stop after this many seconds: of the microphone, or of --file (its start).",
        ),
    ] = None,
    window: Annotated[float, typer.Option(help="Seconds of audio each result is about.")] = 2.0,
    hop: Annotated[float, typer.Option(help="Seconds between results.")] = 0.5,
    min_speech: Annotated[
        float, typer.Option(help="Least speech in a window to name a speaker.")
    ] = 0.8,
    among: Annotated[
        list[str] | None, typer.Option("--among", help="Only consider these profiles.")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Use a voxprint service at this URL (http://host:port).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="Key for --server (default: VOXPRINT_API_KEY).", show_default=False
        ),
    ] = None,
    local_fallback: Annotated[
        bool, typer.Option("--local-fallback", help="Use the local store if --server fails.")
    ] = False,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Say who is speaking, live: from the microphone, a recording, or through a server."""
    config = LiveConfig(window_seconds=window, hop_seconds=hop, min_speech_seconds=min_speech)
    show = Printer(json_output)
    if among and server is not None:
        # the server's live identification takes no profile list: it would name anyone
        raise InvalidParameterError(
            "--among works with the local store only: the server's live identification "
            "considers every profile of the key's namespace; leave out --server or --among"
        )

    source = (
        file_blocks(file, speed, hop, seconds) if file is not None else microphone_blocks(seconds)
    )
    latencies: Latencies | None = None
    if server is not None:
        # Imported here: 40 ms that every other command would pay.
        from websockets.exceptions import InvalidHandshake, InvalidURI

        configured = settings().api_key
        key = api_key or (configured.get_secret_value() if configured is not None else None)
        if not key:
            raise InvalidParameterError("--server needs --api-key (or VOXPRINT_API_KEY)")
        try:
            latencies = run_remote(source, server, key, window, show, every_hop=file is not None)
        except (
            OSError,
            TimeoutError,
            ServiceUnavailableError,
            InvalidHandshake,
            InvalidURI,
        ) as error:
            if not local_fallback:
                raise ServiceUnavailableError(f"cannot use the server {server}: {error}") from None
            typer.echo(f"server {server} unreachable ({error}); using the local store", err=True)
    if latencies is None:
        from voxprint.cli.common import open_service

        service = open_service(db, model, create=False)
        subset = [service.resolve_profile(ref).id for ref in among] if among else None
        scorer = IdentifyScorer(service, subset, config.identification_threshold)

        def evaluate(window_: Any) -> Any:
            return evaluate_window(service, window_, scorer, config.min_speech_seconds)

        latencies = run_local(source, config, evaluate, show)
    typer.echo(latencies.summary(), err=True)


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)

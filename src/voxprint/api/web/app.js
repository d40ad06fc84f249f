// voxprint web page: profiles, enrolment, live identification, verification, embedding map.
import { startCapture } from "/web/capture.js";
import { keepKey, storedKey } from "/web/key.js";
import { PROFILE_PAGE, showProfilesNote } from "/web/profiles.js";
import { unknownLabel } from "/web/reasons.js";

const KEY_HINT = "Enter an API key to start. Create one on the server with: voxprint keys create --name NAME --db DATABASE (the database this server was started with).";
const KEY_REFUSED = "The server refused this API key (unknown, revoked, or made for another database). Check the key, or create one with: voxprint keys create --name NAME --db DATABASE (the database this server was started with).";
const $ = (id) => document.getElementById(id);
let profiles = [];
let profilesTotal = 0;
let keyAccepted = false;

function apiKey() { return storedKey(); }

// The passphrase section (spoken.js) keeps its own list of profiles: each side tells the
// other when it changed them, so neither offers a deleted profile or misses a new one.
const PROFILES_CHANGED = "voxprint:profiles-changed";
function profilesChanged() {
  document.dispatchEvent(new CustomEvent(PROFILES_CHANGED, { detail: { from: "app" } }));
}

// A request the server refused for its key (401): one clear message, not per feature.
class KeyRefused extends Error {}

// Controls that need a key stay disabled until the server has accepted one.
function setKeyAccepted(accepted) {
  keyAccepted = accepted;
  for (const control of document.querySelectorAll("[data-needs-key]")) control.disabled = !accepted;
}

function keyRefused() {
  setKeyAccepted(false);
  profiles = [];
  profilesTotal = 0;
  renderProfiles();
  say(KEY_REFUSED, true);
}

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

async function api(method, path, body) {
  const headers = { "X-API-Key": apiKey() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

// Every request goes through here: a refused key (401) is a KeyRefused, another
// refusal an Error with the server's message.
async function send(path, init) {
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) throw new KeyRefused(KEY_REFUSED);
  if (!response.ok) {
    const message = (data.error && data.error.message) || response.statusText;
    throw new Error(message);
  }
  return data;
}

// A browser cannot set headers on a WebSocket: the key goes in the first message, not
// in the URL (which would reach access logs).
function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

// --- profiles ------------------------------------------------------------------------

// Lists the profiles; this is also how the page learns whether the server accepts the key.
async function loadProfiles() {
  if (!apiKey()) { setKeyAccepted(false); say(KEY_HINT); return false; }
  try {
    const page = await api("GET", `/v1/profiles?limit=${PROFILE_PAGE}`);
    profiles = page.items;
    profilesTotal = page.total;
    setKeyAccepted(true);
    renderProfiles();
    return true;
  } catch (error) { fail("Could not list profiles", error); return false; }
}

// Shows an error; a refused key gets its own message and disables the controls again.
function fail(what, error) {
  if (error instanceof KeyRefused) keyRefused();
  else say(`${what}: ${error.message}`, true);
}

// Enrolled speech to the tenth, rounded down: 9.98 s of a 10 s requirement never reads
// "10.0 of 10.0" while the profile is still enrolling.
function tenthsDown(seconds) {
  return (Math.floor(seconds * 10 + 1e-9) / 10).toFixed(1);
}

function renderProfiles() {
  const body = $("profiles");
  body.replaceChildren();
  // One page is listed: say so when the server holds more.
  showProfilesNote($("profiles-note"), profiles.length, profilesTotal);
  for (const p of profiles) {
    const row = document.createElement("tr");
    const cells = [p.name, p.status, `${tenthsDown(p.net_speech_seconds)} s`];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const action = document.createElement("td");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete profile ${p.name}`);
    remove.addEventListener("click", () => deleteProfile(p));
    action.append(remove);
    row.append(action);
    body.append(row);
  }
  for (const select of document.querySelectorAll(".profile-select")) {
    const chosen = select.value;
    select.replaceChildren();
    const enrolledOnly = select.dataset.enrolledOnly === "1";
    for (const p of profiles) {
      if (enrolledOnly && p.status !== "enrolled") continue;
      // Live enrolment and verification are for ordinary voices: a passphrase profile
      // enrols and verifies clip by clip, in the passphrase section.
      if (p.kind === "text-dependent") continue;
      const option = document.createElement("option");
      option.value = p.id;
      option.textContent = `${p.name} (${p.status})`;
      select.append(option);
    }
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }
}

async function deleteProfile(profile) {
  if (!confirm(`Delete ${profile.name} and its voiceprint for good?`)) return;
  try {
    await api("DELETE", `/v1/profiles/${profile.id}`);
    say(`Deleted ${profile.name}.`);
    profilesChanged();
    await loadProfiles();
    await drawMap();
  } catch (error) { fail("Could not delete", error); }
}

// --- a live session: microphone -> WebSocket -> messages ------------------------------

async function liveSession(path, onMessage, onClose) {
  const socket = new WebSocket(socketUrl(path));
  socket.binaryType = "arraybuffer";
  let capture = null;
  const session = {
    socket,
    end() {
      if (capture) { capture.stop(); capture = null; }
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: "end" }));
    },
    abort() {
      if (capture) { capture.stop(); capture = null; }
      socket.close();
    },
  };
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "error" && message.error.code === "unauthorized") keyRefused();
    else if (message.type === "error") say(message.error.message, true);
    onMessage(message, session);
  });
  socket.addEventListener("close", (event) => {
    if (capture) { capture.stop(); capture = null; }
    onClose(event);
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error("could not connect to the live service")), { once: true });
  });
  socket.send(JSON.stringify({ api_key: apiKey() }));
  try {
    capture = await startCapture((chunk) => { if (socket.readyState === WebSocket.OPEN) socket.send(chunk); });
  } catch (error) {
    socket.close();
    throw error;
  }
  return session;
}

function toggle(startId, stopId, running) {
  $(startId).disabled = running || !keyAccepted;
  $(stopId).disabled = !running;
}

// --- identification -------------------------------------------------------------------

let identifySession = null;

function showSpeaker(message) {
  const name = $("speaker-name");
  $("speaker-speech").textContent = `${message.net_speech_seconds.toFixed(1)} s`;
  if (!message.speaking) { name.classList.add("silent"); return; }
  name.classList.remove("silent");
  name.classList.toggle("unknown", message.unknown);
  name.textContent = message.unknown ? unknownLabel(message.reason) : message.profile_name;
  $("speaker-score").textContent = message.score === null ? "—" : message.score.toFixed(2);
  if (message.changed) {
    const item = document.createElement("li");
    item.textContent = `${message.audio_seconds.toFixed(1)} s: ${message.unknown ? unknownLabel(message.reason) : message.profile_name}`;
    $("speaker-changes").prepend(item);
  }
}

async function startIdentify() {
  if (!keyAccepted) { say(KEY_HINT, true); return; }
  toggle("identify-start", "identify-stop", true);
  $("speaker-name").textContent = "listening…";
  $("speaker-changes").replaceChildren();
  try {
    identifySession = await liveSession("/v1/ws/identify", (message) => {
      if (message.type === "result") showSpeaker(message);
    }, () => { identifySession = null; toggle("identify-start", "identify-stop", false); });
    say("Listening: speak into the microphone.");
  } catch (error) {
    say(error.message, true);
    toggle("identify-start", "identify-stop", false);
  }
}

// --- enrolment ------------------------------------------------------------------------

let enrollSession = null;

async function startEnroll() {
  if (!keyAccepted) { say(KEY_HINT, true); return; }
  const profileId = $("enroll-profile").value;
  if (!profileId) { say("Create a profile first.", true); return; }
  toggle("enroll-start", "enroll-stop", true);
  $("enroll-progress").value = 0;
  try {
    enrollSession = await liveSession(`/v1/ws/enroll/${profileId}`, (message, session) => {
      if (message.type === "ready") {
        $("enroll-progress").value = message.required_seconds ? Math.min(1, message.enrolled_seconds / message.required_seconds) : 1;
      } else if (message.type === "result") {
        const have = message.enrolled_seconds + message.net_speech_seconds;
        $("enroll-progress").value = message.progress;
        $("enroll-text").textContent = `${tenthsDown(have)} of ${message.required_seconds.toFixed(1)} s of speech`;
        // Stop by itself only when this recording enrols the profile (not when adding
        // to a profile enrolled already, whose progress is full from the start).
        if (message.enough && !message.final) session.end();
      } else if (message.type === "enrolled") {
        $("enroll-progress").value = 1;
        $("enroll-text").textContent = `${message.profile.name}: ${message.status} (${tenthsDown(message.net_speech_seconds)} s of speech)`;
        say(`${message.profile.name} is ${message.status}.${similarWarning(message)}`, hasSimilar(message));
        profilesChanged();
        loadProfiles().then(drawMap);
      }
    }, () => { enrollSession = null; toggle("enroll-start", "enroll-stop", false); });
    $("enroll-text").textContent = "recording…";
  } catch (error) {
    say(error.message, true);
    toggle("enroll-start", "enroll-stop", false);
  }
}

// --- verification ---------------------------------------------------------------------

let verifySession = null;

async function startVerify() {
  if (!keyAccepted) { say(KEY_HINT, true); return; }
  const profileId = $("verify-profile").value;
  if (!profileId) { say("Enrol a profile first.", true); return; }
  toggle("verify-start", "verify-stop", true);
  const out = $("verify-result");
  out.textContent = "listening…";
  out.className = "";
  try {
    verifySession = await liveSession(`/v1/ws/verify/${profileId}`, (message) => {
      if (message.type !== "result" || !message.speaking) return;
      const lookAlike = message.look_alike ? ` — as close to ${message.look_alike.profile_name}` : "";
      out.textContent = `${message.profile_name}: ${message.decision} (score ${message.score.toFixed(2)})${lookAlike}${message.final ? " — final" : ""}`;
      out.className = message.decision;
    }, () => { verifySession = null; toggle("verify-start", "verify-stop", false); });
  } catch (error) {
    say(error.message, true);
    toggle("verify-start", "verify-stop", false);
  }
}

// --- embedding map --------------------------------------------------------------------

const COLOURS = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#334155"];
const SVG = "http://www.w3.org/2000/svg";

async function drawMap() {
  if (!keyAccepted) return;
  let data;
  try { data = await api("GET", "/v1/embedding-map"); } catch (error) { fail("Could not draw the map", error); return; }
  const svg = $("map");
  for (const node of [...svg.querySelectorAll("circle, text")]) node.remove();
  const legend = $("map-legend");
  legend.replaceChildren();
  const points = data.points;
  if (!points.length) return;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => 20 + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * 360;
  const sy = (y) => 280 - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * 260;
  const colour = new Map();
  for (const p of points) if (!colour.has(p.profile_id)) colour.set(p.profile_id, COLOURS[colour.size % COLOURS.length]);
  for (const p of points) {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", sx(p.x)); dot.setAttribute("cy", sy(p.y));
    dot.setAttribute("r", p.kind === "voiceprint" ? 7 : 4);
    dot.setAttribute("fill", colour.get(p.profile_id));
    dot.setAttribute("fill-opacity", p.kind === "voiceprint" ? 1 : 0.55);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${p.name} (${p.kind})`;
    dot.append(title);
    svg.append(dot);
    if (p.kind === "voiceprint") {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", sx(p.x) + 9); label.setAttribute("y", sy(p.y) + 4);
      label.setAttribute("font-size", "12");
      label.textContent = p.name;
      svg.append(label);
    }
  }
  for (const p of points.filter((q) => q.kind === "voiceprint")) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = colour.get(p.profile_id);
    item.append(swatch, p.name);
    legend.append(item);
  }
}

// --- diarization: a timeline with a row per speaker -------------------------------------

const TURN_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

async function runDiarization(event) {
  event.preventDefault();
  const file = $("diarize-file").files[0];
  if (!file) return;
  const count = $("diarize-speakers").value;
  const query = count ? `?num_speakers=${encodeURIComponent(count)}` : "";
  $("diarize-summary").textContent = `Diarizing ${file.name}...`;
  $("diarize-run").disabled = true;
  try {
    const form = new FormData();
    form.append("audio", file, file.name);
    const data = await send(`/v1/diarize${query}`, { method: "POST", headers: { "X-API-Key": apiKey() }, body: form });
    drawTimeline(data);
  } catch (error) {
    $("diarize-summary").textContent = "";
    fail("Could not diarize", error);
  } finally { $("diarize-run").disabled = !keyAccepted; }
}

function drawTimeline(result) {
  const duration = Math.max(result.duration_seconds, 0.001);
  $("diarize-summary").textContent =
    `${result.speaker_count} speakers in ${duration.toFixed(1)} s of audio ` +
    `(${result.processing_seconds.toFixed(1)} s to diarize).` +
    (result.speakers_missing > 0
      ? ` Fewer than the ${result.requested_speakers.num_speakers} asked for: no more voices could be told apart.`
      : "");
  const timeline = $("timeline");
  timeline.replaceChildren();
  result.speakers.forEach((speaker, index) => {
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "listitem");
    const who = document.createElement("div");
    who.className = "who";
    const share = speaker.talk_seconds.toFixed(1);
    who.textContent = speaker.unknown ? `${speaker.speaker} (${share} s)` : `${speaker.speaker} ${speaker.score.toFixed(2)} (${share} s)`;
    if (speaker.unknown) {
      const enrol = document.createElement("button");
      enrol.type = "button";
      enrol.textContent = "Enrol as...";
      enrol.setAttribute("aria-label", `Enrol ${speaker.speaker} as a new profile`);
      enrol.addEventListener("click", () => enrolDiarized(result.diarization_id, speaker.speaker));
      who.append(enrol);
    }
    const track = document.createElement("div");
    track.className = "track";
    track.setAttribute("aria-label", `${speaker.speaker}: ${speaker.turns} turns, ${share} s`);
    for (const turn of result.segments.filter((t) => t.speaker === speaker.speaker)) {
      const bar = document.createElement("div");
      bar.className = "turn";
      bar.style.left = `${(100 * turn.start) / duration}%`;
      bar.style.width = `${(100 * (turn.end - turn.start)) / duration}%`;
      bar.style.background = TURN_COLOURS[index % TURN_COLOURS.length];
      bar.title = `${speaker.speaker}: ${turn.start.toFixed(1)}-${turn.end.toFixed(1)} s`;
      track.append(bar);
    }
    row.append(who, track);
    timeline.append(row);
  });
  const axis = document.createElement("div");
  axis.className = "axis";
  for (const t of [0, duration / 2, duration]) {
    const tick = document.createElement("span");
    tick.textContent = `${t.toFixed(0)} s`;
    axis.append(tick);
  }
  const axisRow = document.createElement("div");
  axisRow.className = "row";
  axisRow.append(document.createElement("div"), axis);
  timeline.append(axisRow);
}

// An enrolment answer's similar voices, as a warning sentence ("" when there are none).
function hasSimilar(report) { return (report.similar_voices || []).length > 0; }
function similarWarning(report) {
  if (!hasSimilar(report)) return "";
  const close = report.similar_voices.map((s) => `${s.profile_name} (cosine ${s.cosine.toFixed(2)})`);
  return ` Warning: the voice is very close to ${close.join(", ")}; identification may confuse them. If it is one person, merge the two profiles (voxprint profiles merge, or POST /v1/profiles/{id}/merge).`;
}

async function enrolDiarized(diarizationId, label) {
  const name = window.prompt(`Name for ${label} (a new profile):`);
  if (!name || !name.trim()) return;
  try {
    const report = await api("POST", `/v1/diarizations/${diarizationId}/enroll`, { speaker: label, name: name.trim() });
    say(`Enrolled ${label} as ${report.profile.name} (${report.net_speech_seconds.toFixed(1)} s, ${report.status}).${similarWarning(report)}`, hasSimilar(report));
    profilesChanged();
    await loadProfiles();
  } catch (error) { fail("Could not enrol", error); }
}

// --- wiring ---------------------------------------------------------------------------

function init() {
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    keepKey($("api-key").value.trim());
    loadProfiles().then((accepted) => {
      if (accepted) { say("Key accepted; kept for this tab only."); drawMap(); }
    });
  });
  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-name").value.trim();
    try {
      const created = await api("POST", "/v1/profiles", { name });
      $("new-name").value = "";
      say(`Created ${created.name}; now record its voice.`);
      profilesChanged();
      await loadProfiles();
      $("enroll-profile").value = created.id;
    } catch (error) { fail("Could not create", error); }
  });
  $("identify-start").addEventListener("click", startIdentify);
  $("identify-stop").addEventListener("click", () => identifySession && identifySession.end());
  $("enroll-start").addEventListener("click", startEnroll);
  $("enroll-stop").addEventListener("click", () => enrollSession && enrollSession.end());
  $("verify-start").addEventListener("click", startVerify);
  $("verify-stop").addEventListener("click", () => verifySession && verifySession.end());
  $("map-refresh").addEventListener("click", drawMap);
  $("diarize-form").addEventListener("submit", runDiarization);
  document.addEventListener(PROFILES_CHANGED, (event) => {
    if (event.detail.from !== "app" && keyAccepted) loadProfiles().then(drawMap);
  });
  loadProfiles().then(drawMap);
}

init();

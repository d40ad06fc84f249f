// voxprint web page: passphrase profiles and spoken challenges, one recorded clip at a time.
// A clip is recorded from the microphone (16 kHz PCM16), wrapped as WAV and posted to
// /v1/profiles/{id}/enrollments or /verify (with ?challenge= when a challenge is open).
import { startCapture } from "/web/capture.js";
import { storedKey } from "/web/key.js";
import { PROFILE_PAGE, showProfilesNote } from "/web/profiles.js";

const $ = (id) => document.getElementById(id);
let profiles = [];
let challenge = null;
let recording = null;
let clip = null;

// app.js keeps its own list of profiles (table, live sections): tell each other of changes.
const PROFILES_CHANGED = "voxprint:profiles-changed";
function profilesChanged() {
  document.dispatchEvent(new CustomEvent(PROFILES_CHANGED, { detail: { from: "spoken" } }));
}

function headers(extra = {}) { return { "X-API-Key": storedKey(), ...extra }; }

async function call(method, path, body, contentType = "application/json") {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": contentType }) };
  if (body !== undefined) init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
  return data;
}

function show(text, state = "") {
  const out = $("phrase-result");
  out.textContent = text;
  out.className = state;
}

function selected() { return profiles.find((p) => p.id === $("phrase-profile").value) || null; }

function showWhatToSay() {
  const out = $("phrase-to-say");
  const profile = selected();
  if (challenge) out.textContent = `“${challenge.phrase}” (challenge, until ${new Date(challenge.expires_at).toLocaleTimeString()})`;
  else if (!profile) out.textContent = "—";
  else if (profile.kind === "text-dependent") out.textContent = profile.passphrase ? `“${profile.passphrase}”` : `one passphrase, e.g. “${$("phrase-choice").value}” (the first clip fixes it)`;
  else out.textContent = "press New challenge, then say its words";
  const clipReady = clip !== null;
  $("phrase-enroll").disabled = !clipReady || !profile || profile.kind !== "text-dependent";
  $("phrase-verify").disabled = !clipReady || !profile || (profile.kind !== "text-dependent" && !challenge) || profile.status !== "enrolled";
}

export async function refreshSpoken() {
  if (!storedKey()) return;
  try {
    const [page, offered] = await Promise.all([call("GET", `/v1/profiles?limit=${PROFILE_PAGE}`), call("GET", "/v1/phrases")]);
    profiles = page.items;
    // One page is listed: say so when the server holds more.
    showProfilesNote($("phrase-profiles-note"), profiles.length, page.total);
    const choice = $("phrase-choice");
    if (!choice.options.length) {
      for (const phrase of offered.phrases) choice.append(new Option(phrase, phrase));
    }
    const select = $("phrase-profile");
    const chosen = select.value;
    select.replaceChildren(...profiles.map((p) => new Option(`${p.name} (${p.kind === "text-dependent" ? "passphrase" : "voice"}, ${p.status})`, p.id)));
    if (profiles.some((p) => p.id === chosen)) select.value = chosen;
    showWhatToSay();
  } catch (error) { show(`Could not load: ${error.message}`, "reject"); }
}

function wav(chunks) {
  const samples = chunks.reduce((n, c) => n + c.byteLength / 2, 0);
  const buffer = new ArrayBuffer(44 + samples * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + samples * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, 16000, true); view.setUint32(28, 32000, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, samples * 2, true);
  let offset = 44;
  for (const c of chunks) { new Uint8Array(buffer, offset, c.byteLength).set(new Uint8Array(c)); offset += c.byteLength; }
  return new Blob([buffer], { type: "audio/wav" });
}

async function record() {
  const chunks = [];
  clip = null;
  $("phrase-record").disabled = true;
  try {
    recording = { chunks, capture: await startCapture((chunk) => chunks.push(chunk)) };
    $("phrase-stop").disabled = false;
    show("recording… say the phrase, then Stop");
  } catch (error) {
    $("phrase-record").disabled = false;
    show(error.message, "reject");
  }
  showWhatToSay();
}

function stop() {
  if (!recording) return;
  recording.capture.stop();
  clip = wav(recording.chunks);
  const seconds = (clip.size - 44) / 32000;
  recording = null;
  $("phrase-stop").disabled = true;
  $("phrase-record").disabled = false;
  show(`clip of ${seconds.toFixed(1)} s ready (passphrase clips are 1–10 s)`);
  showWhatToSay();
}

async function enrol() {
  const profile = selected();
  try {
    const result = await call("POST", `/v1/profiles/${profile.id}/enrollments`, clip, "audio/wav");
    show(`heard “${result.phrase.heard}”: ${result.status}, ${result.remaining_clips} more clips needed`, "accept");
    clip = null;
    profilesChanged();
    await refreshSpoken();
  } catch (error) { show(error.message, "reject"); }
}

async function verify() {
  const profile = selected();
  const query = challenge ? `?challenge=${challenge.id}` : "";
  try {
    const r = await call("POST", `/v1/profiles/${profile.id}/verify${query}`, clip, "audio/wav");
    const phrase = r.phrase ? `phrase ${r.phrase.accepted ? "said" : "not said"} (heard “${r.phrase.heard || "nothing"}”)` : "";
    show(`${r.decision.toUpperCase()} (${r.reason}): ${phrase}; voice ${r.voice_decision || r.decision}, score ${r.score.toFixed(2)}`, r.decision);
  } catch (error) { show(error.message, "reject"); }
  challenge = null;
  clip = null;
  showWhatToSay();
}

async function newChallenge() {
  try {
    challenge = await call("POST", "/v1/challenges", {});
    show("say the challenge words, once, before it expires");
  } catch (error) { show(error.message, "reject"); }
  showWhatToSay();
}

async function createProfile(event) {
  event.preventDefault();
  const name = $("phrase-name").value.trim();
  try {
    const created = await call("POST", "/v1/profiles", { name, kind: "text-dependent", passphrase: $("phrase-choice").value });
    $("phrase-name").value = "";
    profilesChanged();
    await refreshSpoken();
    $("phrase-profile").value = created.id;
    show(`Created ${created.name}: record “${created.passphrase}” three times and enrol each clip.`);
    showWhatToSay();
  } catch (error) { show(`Could not create: ${error.message}`, "reject"); }
}

function init() {
  $("phrase-create-form").addEventListener("submit", createProfile);
  $("phrase-profile").addEventListener("change", () => { challenge = null; showWhatToSay(); });
  $("phrase-choice").addEventListener("change", showWhatToSay);
  $("phrase-record").addEventListener("click", record);
  $("phrase-stop").addEventListener("click", stop);
  $("phrase-enroll").addEventListener("click", enrol);
  $("phrase-verify").addEventListener("click", verify);
  $("challenge-new").addEventListener("click", newChallenge);
  $("phrase-refresh").addEventListener("click", refreshSpoken);
  $("key-form").addEventListener("submit", () => setTimeout(refreshSpoken, 0));
  document.addEventListener(PROFILES_CHANGED, (event) => {
    if (event.detail.from !== "spoken") refreshSpoken();
  });
  refreshSpoken();
}

init();

// Runs the web page's scripts (app.js, then spoken.js, as the page loads them) in Node
// against a small fake DOM and a scripted server, then prints what the page shows at
// each step as JSON (tests/test_api_web.py reads it).
// Usage: node page_harness.mjs WEB_DIR GOOD_KEY
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [webDir, goodKey] = process.argv.slice(2);

class FakeElement {
  constructor(tag, attributes = {}) {
    this.tagName = tag.toUpperCase();
    this.attributes = { ...attributes };
    this.dataset = {};
    for (const [name, value] of Object.entries(attributes)) {
      if (name.startsWith("data-")) {
        const key = name.slice(5).replace(/-([a-z])/g, (_m, c) => c.toUpperCase());
        this.dataset[key] = value;
      }
    }
    this.disabled = "disabled" in attributes;
    this.value = attributes.value ?? "";
    this.textContent = "";
    this.className = attributes.class ?? "";
    this.children = [];
    this.listeners = {};
    this.style = {};
    const element = this;
    this.classList = {
      toggle(name, on) { if (on === undefined ? !this.contains(name) : on) this.add(name); else this.remove(name); },
      add(name) { if (!this.contains(name)) element.className = `${element.className} ${name}`.trim(); },
      remove(name) { element.className = element.className.split(" ").filter((c) => c && c !== name).join(" "); },
      contains(name) { return element.className.split(" ").includes(name); },
    };
  }
  get options() { return this.children; }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  hasAttribute(name) { return name in this.attributes; }
  addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); }
  dispatch(type) { for (const l of this.listeners[type] || []) l({ preventDefault() {}, target: this }); }
  replaceChildren(...nodes) { this.children = [...nodes]; }
  append(...nodes) { this.children.push(...nodes); }
  prepend(...nodes) { this.children.unshift(...nodes); }
  querySelectorAll() { return []; }
  remove() {}
}

// The page's elements with an id, with their attributes, from index.html.
const html = readFileSync(join(webDir, "index.html"), "utf8");
const byId = new Map();
for (const match of html.matchAll(/<([a-z]+)\b([^>]*)>/g)) {
  const attributes = {};
  for (const a of match[2].matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) attributes[a[1]] = a[2] ?? "";
  if (attributes.id) byId.set(attributes.id, new FakeElement(match[1], attributes));
}

const documentListeners = {};
const documentEvents = [];
const document = {
  addEventListener(type, listener) { (documentListeners[type] ||= []).push(listener); },
  dispatchEvent(event) {
    documentEvents.push({ type: event.type, from: event.detail && event.detail.from });
    for (const l of documentListeners[event.type] || []) l(event);
    return true;
  },
  getElementById: (id) => byId.get(id) ?? null,
  querySelectorAll(selector) {
    const all = [...byId.values()];
    if (selector === "[data-needs-key]") return all.filter((e) => e.hasAttribute("data-needs-key"));
    if (selector === ".profile-select") return all.filter((e) => e.classList.contains("profile-select"));
    return [];
  },
  createElement: (tag) => new FakeElement(tag),
  createElementNS: (_ns, tag) => new FakeElement(tag),
};
// The browser's two stores: key.js keeps the key in the tab's (sessionStorage) only.
function fakeStorage() {
  const held = new Map();
  return {
    held,
    getItem: (k) => (held.has(k) ? held.get(k) : null),
    setItem: (k, v) => held.set(k, String(v)),
    removeItem: (k) => held.delete(k),
  };
}
globalThis.localStorage = fakeStorage();
globalThis.sessionStorage = fakeStorage();
const requests = [];
let carolAdded = false;
let profilesTotal = null; // what the server says it holds; null: the profiles it lists
let revoked = false; // the server refuses the good key too (revoked since the page took it)
const DIARIZATION = {
  diarization_id: "d1", duration_seconds: 12, processing_seconds: 1.5, speaker_count: 1,
  speakers_missing: 0, requested_speakers: {},
  speakers: [{ speaker: "SPEAKER_00", unknown: true, score: 0.2, talk_seconds: 10, turns: 2 }],
  segments: [{ speaker: "SPEAKER_00", start: 0, end: 5 }, { speaker: "SPEAKER_00", start: 6, end: 11 }],
};
async function fetch(path, options) {
  const key = options.headers["X-API-Key"];
  requests.push({ path, key });
  const reply = (status, body) => ({
    status, ok: status < 400, statusText: String(status), json: async () => body,
  });
  if (key !== goodKey || revoked) return reply(401, { error: { code: "unauthorized", message: "invalid API key" } });
  if (options.method === "DELETE") return { status: 204, ok: true, statusText: "204", json: async () => null };
  if (path.startsWith("/v1/profiles")) {
    const added = carolAdded ? [{ id: "p3", name: "Carol", kind: "text-independent", status: "enrolling", net_speech_seconds: 0 }] : [];
    const items = [...added,
      { id: "p1", name: "Alice", kind: "text-independent", status: "enrolled", net_speech_seconds: 21 },
      { id: "p2", name: "Bob", kind: "text-dependent", status: "enrolled", net_speech_seconds: 6 },
    ];
    return reply(200, { items, total: profilesTotal ?? items.length });
  }
  if (path.startsWith("/v1/phrases")) return reply(200, { phrases: ["my voice is my password"] });
  if (path.startsWith("/v1/diarize")) return reply(200, DIARIZATION);
  if (path.startsWith("/v1/embedding-map")) return reply(200, { method: "pca", explained_variance: [], points: [] });
  return reply(404, { error: { code: "not_found", message: "no such route" } });
}
class WebSocket { constructor() { throw new Error("no sockets in this test"); } }

// profiles.js needs no browser: it is imported as it is; the page's scripts get what they
// import from it (and no microphone) as arguments, their import and export keywords removed.
const shared = {
  ...(await import(pathToFileURL(join(webDir, "profiles.js")).href)),
  ...(await import(pathToFileURL(join(webDir, "key.js")).href)),
};
globalThis.window = { prompt: () => "Dave" }; // "Enrol as..." asks for a name
globalThis.Option = function Option(text, value) {
  const option = new FakeElement("option", { value });
  option.textContent = text;
  return option;
};
for (const script of ["app.js", "spoken.js"]) {
  const source = readFileSync(join(webDir, script), "utf8")
    .replace(/^import .*$/gm, "")
    .replace(/^export /gm, "");
  const run = new Function(
    "document", "fetch", "location", "WebSocket", "confirm", "startCapture",
    ...Object.keys(shared), source,
  );
  run(
    document, fetch, { protocol: "http:", host: "test" }, WebSocket, () => true, null,
    ...Object.values(shared),
  );
}

// An element's text, or null while it is hidden.
function shownText(id) {
  const element = byId.get(id);
  return (element.hidden ?? element.hasAttribute("hidden")) ? null : element.textContent;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const snapshot = (step) => ({
  step,
  status: byId.get("status").textContent,
  status_is_error: byId.get("status").classList.contains("error"),
  disabled: Object.fromEntries(
    document.querySelectorAll("[data-needs-key]").map((e) => [e.attributes.id, e.disabled]),
  ),
  profiles: byId.get("profiles").children.length,
  profiles_note: shownText("profiles-note"),
  phrase_profiles: byId.get("phrase-profile").children.length,
  phrase_profiles_note: shownText("phrase-profiles-note"),
  timeline_rows: byId.get("timeline").children.length,
  live_choices: Object.fromEntries(
    ["enroll-profile", "verify-profile"].map((id) => [id, byId.get(id).children.map((o) => o.value)]),
  ),
});

async function saveKey(key) {
  byId.get("api-key").value = key;
  byId.get("key-form").dispatch("submit");
  await settle();
}

const steps = [];
await settle();
steps.push(snapshot("no key"));
byId.get("identify-start").dispatch("click");
await settle();
steps.push(snapshot("start clicked without a key"));
await saveKey("vxp_0000000000000000_wrongwrongwrongwrongwrong");
steps.push(snapshot("wrong key"));
await saveKey(goodKey);
steps.push(snapshot("good key"));
// The passphrase section created a profile: the table and the live lists show it.
carolAdded = true;
document.dispatchEvent(new CustomEvent("voxprint:profiles-changed", { detail: { from: "spoken" } }));
await settle();
steps.push(snapshot("profile created in the passphrase section"));
// Deleting from the table tells the passphrase section.
const eventsBefore = documentEvents.length;
byId.get("profiles").children[0].children[3].children[0].dispatch("click");
await settle();
steps.push({ ...snapshot("profile deleted in the table"), told: documentEvents.slice(eventsBefore) });
await saveKey("vxp_0000000000000000_revokedrevokedrevoked");
steps.push(snapshot("key changed to a wrong one"));
// The server holds more profiles than one page lists.
profilesTotal = 1234;
await saveKey(goodKey);
steps.push(snapshot("more profiles than one page"));
// A recording diarized, then the key revoked: "Enrol as..." and diarizing again are refused.
const diarizeFile = byId.get("diarize-file");
diarizeFile.files = [new File(["RIFF"], "talk.wav")];
byId.get("diarize-form").dispatch("submit");
await settle();
steps.push(snapshot("diarized"));
revoked = true;
byId.get("timeline").children[0].children[0].children[0].dispatch("click"); // Enrol as...
await settle();
steps.push(snapshot("enrol as with a revoked key"));
byId.get("status").textContent = "";
byId.get("diarize-form").dispatch("submit");
await settle();
steps.push(snapshot("diarize with a revoked key"));
// Where the page kept the key, and a key an older page saved for good (localStorage):
// the next read moves it into the tab's store and erases it from the lasting one.
const stored = () => ({
  lasting: [...localStorage.held.values()],
  tab: [...sessionStorage.held.values()],
});
const keptAfterUse = stored();
sessionStorage.held.clear();
localStorage.setItem("voxprint.apiKey", "vxp_2222222222222222_olderolderolderolderolde");
const readOnce = shared.storedKey();
const storage = { kept_after_use: keptAfterUse, older_key_read: readOnce, after_older_key: stored() };
console.log(JSON.stringify({ steps, requests, storage }));

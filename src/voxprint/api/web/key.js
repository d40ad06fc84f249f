// The API key the page sends: kept for this browser tab only (sessionStorage), so it is
// gone when the tab closes and never waits on disk for the next person at this browser.
// A key that an older page saved for good (localStorage) is moved here and erased there.
const KEY_STORAGE = "voxprint.apiKey";

export function storedKey() {
  const saved = localStorage.getItem(KEY_STORAGE);
  if (saved !== null) {
    localStorage.removeItem(KEY_STORAGE);
    if (!sessionStorage.getItem(KEY_STORAGE)) sessionStorage.setItem(KEY_STORAGE, saved);
  }
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function keepKey(key) { sessionStorage.setItem(KEY_STORAGE, key); }

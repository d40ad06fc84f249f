// What the page's two profile lists share (the table in app.js, the passphrase section in
// spoken.js): each lists one page of profiles and says so when the server holds more.

// The most profiles one request lists (the server's page limit).
export const PROFILE_PAGE = 500;

// The note under a list of `listed` profiles when the server holds `total`: empty when all are listed.
export function moreProfilesNote(listed, total) {
  return total > listed
    ? `Showing the first ${listed} of ${total} profiles (list the rest with: voxprint profiles list --offset ${listed}).`
    : "";
}

// Shows `note` (an element) for one page of profiles, or hides it when all are listed.
export function showProfilesNote(note, listed, total) {
  note.textContent = moreProfilesNote(listed, total);
  note.hidden = !note.textContent;
}

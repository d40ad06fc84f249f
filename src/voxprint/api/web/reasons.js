// How the page words a live window left unknown, from the result's `reason` (the same
// words as `voxprint listen`): a voice that does not stand out from the next profiles
// is not "nobody close", and too little speech is not a stranger.

const WHY_UNKNOWN = {
  look_alike: "does not stand out from other profiles",
  insufficient_speech: "too little speech to tell",
};

// "unknown", with why when the reason says more than "nobody close enough".
export function unknownLabel(reason) {
  const why = WHY_UNKNOWN[reason];
  return why ? `unknown: ${why}` : "unknown";
}

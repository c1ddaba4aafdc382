// Resolving a stale save (409): compare my mask with theirs per label and merge them by label,
// each label's pixels taken from the side chosen for it. Pure.

import { LabelMask } from './mask.js';

/**
 * Per label, how many pixels only one side has: [{label, mine, theirs}] for labels where the
 * two masks differ (mine = pixels labelled so in mine but not in theirs, and the reverse).
 */
export function labelDifferences(mine, theirs) {
  sameSize(mine, theirs);
  const onlyMine = []; const onlyTheirs = [];
  for (let i = 0; i < mine.data.length; i += 1) {
    const a = mine.data[i]; const b = theirs.data[i];
    if (a !== b) {
      onlyMine[a] = (onlyMine[a] || 0) + 1;
      onlyTheirs[b] = (onlyTheirs[b] || 0) + 1;
    }
  }
  const differences = [];
  for (let label = 0; label < Math.max(onlyMine.length, onlyTheirs.length); label += 1) {
    if (onlyMine[label] || onlyTheirs[label]) {
      differences.push({ label, mine: onlyMine[label] || 0, theirs: onlyTheirs[label] || 0 });
    }
  }
  return differences;
}

/**
 * Merge by label. `winner(label)` is 'mine' or 'theirs': whose pixels of that label count.
 * Where the masks agree, that value. Where they differ (mine a, theirs b), a side claims the
 * pixel when its label's winner is that side; the only claim wins; when both claim, a real
 * label beats background (0) and otherwise mine wins; when neither claims, the saved version
 * (theirs) stays. All 'mine' gives my mask, all 'theirs' gives theirs, and choosing 'theirs'
 * for one label adds their pixels of it to mine.
 */
export function mergeByLabel(mine, theirs, winner) {
  sameSize(mine, theirs);
  const isMine = new Uint8Array(256);
  for (let label = 0; label < 256; label += 1) isMine[label] = winner(label) === 'mine' ? 1 : 0;
  const out = new Uint8Array(mine.data.length);
  for (let i = 0; i < out.length; i += 1) {
    const a = mine.data[i]; const b = theirs.data[i];
    const mineClaims = isMine[a] === 1;
    const theirsClaim = isMine[b] === 0;
    out[i] = a === b || (mineClaims && !(theirsClaim && a === 0)) ? a : b;
  }
  return new LabelMask(mine.width, mine.height, out);
}

function sameSize(a, b) {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`masks of different sizes: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
}

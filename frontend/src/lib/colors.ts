// One colour per class, the same in every view and after every reload: a pure function of the
// category name (FNV-1a hash -> hue), never of the order in which categories were seen.

export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const colours = new Map<string, string>();

/** `hsl(...)` colour of a category, readable on dark thumbnails (fixed saturation and lightness). */
export function categoryColor(name: string): string {
  // asked for every box of every drawn row and every facet of each sidebar render: kept per name
  let colour = colours.get(name);
  if (colour === undefined) colours.set(name, (colour = hueOf(name)));
  return colour;
}

function hueOf(name: string): string {
  const h = hashName(name);
  const hue = h % 360;
  // two lightness steps separate neighbouring hues a little more
  const light = 55 + ((h >>> 9) % 2) * 10;
  return `hsl(${hue} 85% ${light}%)`;
}

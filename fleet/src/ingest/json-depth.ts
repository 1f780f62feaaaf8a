/**
 * How deeply a JSON text nests, found in one pass over the text (strings skipped). A device's JSON nests a few
 * levels; thousands of levels are an attack on whatever walks the value recursively later (JSON.stringify, ajv,
 * the API's answer): "Maximum call stack size exceeded" far from the input. Measured before parsing, so such a
 * payload is quarantined on arrival.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of objects and arrays, stopping early once past `stopAbove`. Strings are jumped over with
 * indexOf (native): a device's JSON is mostly strings, and a character loop over them cost as much as JSON.parse.
 */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = closingQuote(text, i);
      if (i < 0) return max; // unterminated: not JSON, JSON.parse says so
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** The index of the quote that ends the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let j = text.indexOf('"', open + 1);
  while (j > 0) {
    // Escaped when an odd number of backslashes precede it.
    let k = j - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((j - 1 - k) % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
  return -1;
}

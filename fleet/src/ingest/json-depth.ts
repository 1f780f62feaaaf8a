/**
 * How deeply a JSON text nests, found in one pass over the text (strings skipped). A device's JSON nests a few
 * levels; thousands of levels are an attack on whatever walks the value recursively later (JSON.stringify, ajv,
 * the API's answer): "Maximum call stack size exceeded" far from the input. Measured before parsing, so such a
 * payload is quarantined on arrival.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of objects and arrays, stopping early once past `stopAbove`. */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

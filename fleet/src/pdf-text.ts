/**
 * Text for the PDF's standard fonts (Helvetica): they encode WinAnsi (Windows-1252) only, and pdfkit writes any
 * other character as a code the font has no glyph for. Device text is untrusted, so every string goes through
 * pdfText first: WinAnsi characters stay, a few common ones map to look-alikes, accented letters lose the accent
 * (NFKD), control characters become spaces, and anything else becomes "?".
 */

/** The characters of Windows-1252's 0x80–0x9F block, as Unicode. */
const CP1252_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

const LOOK_ALIKE: Record<string, string> = {
  '→': '->', '←': '<-', '↑': '^', '↓': 'v', '⇒': '=>', '≥': '>=', '≤': '<=', '≠': '!=', '≈': '~', '∞': 'inf',
  '✓': 'v', '✔': 'v', '✗': 'x', '✘': 'x', '‐': '-', '‑': '-', '‒': '-', '−': '-', '′': "'", '″': '"',
  '\u00a0': ' ', '\u2009': ' ', '\u202f': ' ', '\u200b': '', '\ufeff': '',
};

function winAnsi(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || CP1252_EXTRA.has(ch);
}

/** One character mapped into WinAnsi. */
function mapChar(ch: string): string {
  if (winAnsi(ch)) return ch;
  const c = ch.codePointAt(0)!;
  if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x2028 || c === 0x2029) return ch === '\n' ? '\n' : ' ';
  if (ch in LOOK_ALIKE) return LOOK_ALIKE[ch];
  // Lone surrogates (from a broken device string) have no normal form.
  if (c >= 0xd800 && c <= 0xdfff) return '?';
  const base = ch.normalize('NFKD').replace(/\p{M}/gu, '');
  if (base !== ch && base.length > 0 && [...base].every(winAnsi)) return base;
  return '?';
}

/** `text` in characters the standard PDF fonts can show; cut to `max` characters (with "…") when longer. */
export function pdfText(text: unknown, max = 2000): string {
  const s = typeof text === 'string' ? text : text === null || text === undefined ? '' : String(text);
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n >= max) return out + '…';
    out += mapChar(ch);
    n++;
  }
  return out;
}

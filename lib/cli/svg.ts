// Small helpers for the CLI's pictures, which are SVG documents built as strings and rasterised
// by sharp (librsvg, with the system's fonts through fontconfig).

export type Rgb = readonly [number, number, number];

/**
 * The font stack of every text element. DejaVu Sans first because the width estimate below follows
 * its metrics (it is among the widest common sans faces, so other faces fit in the estimate too);
 * the generic family catches systems without it.
 */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, Arial, sans-serif';

/** `rgb(r,g,b)` for an SVG paint attribute. */
export function svgColor(c: Rgb): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * Text made safe for SVG character data and attribute values: the five markup characters as
 * entities, and the code points XML 1.0 does not allow (C0 controls other than tab, line feed and
 * carriage return; U+FFFE, U+FFFF; unpaired surrogates) dropped.
 */
export function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if ((cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) || cp === 0xfffe || cp === 0xffff || (cp >= 0xd800 && cp <= 0xdfff)) continue;
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case "'": out += '&apos;'; break;
      default: out += ch;
    }
  }
  return out;
}

// Advance widths in em of DejaVu Sans, by groups of characters of about the same width (rounded up).
const WIDTH_GROUPS: [string, number][] = [
  ['ijl.,:;!\'|', 0.3],
  [' I', 0.32],
  ['ft-()[]{}/\\`', 0.4],
  ['r', 0.42],
  ['"', 0.46],
  ['sz*^', 0.53],
  ['cJ_L?', 0.56],
  ['kvxyF', 0.6],
  ['abdeghnopqu0123456789$EPSTY', 0.64],
  ['ABKRVXZ~', 0.7],
  ['CHNU', 0.76],
  ['DGOQ&w', 0.82],
  ['<>=+#M', 0.86],
  ['%@m', 1.0],
  ['W…', 1.0],
];
const CHAR_WIDTH = new Map<string, number>(WIDTH_GROUPS.flatMap(([chars, w]) => [...chars].map((c): [string, number] => [c, w])));

/**
 * An upper estimate of the width in pixels of `text` set at `fontSize` px in FONT_FAMILY (no
 * font is measured, so layout stays a pure function). Characters outside the table count 0.7 em,
 * East Asian wide ones 1 em.
 */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) {
    const known = CHAR_WIDTH.get(ch);
    if (known !== undefined) em += known;
    else {
      const cp = ch.codePointAt(0) as number;
      em += cp >= 0x1100 ? 1 : 0.7;
    }
  }
  return Math.ceil(em * fontSize);
}

/** `text` cut (with an ellipsis) so that its estimated width at `fontSize` is at most `maxWidth`. */
export function fitText(text: string, fontSize: number, maxWidth: number): string {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  const chars = [...text];
  while (chars.length > 0 && textWidth(`${chars.join('')}…`, fontSize) > maxWidth) chars.pop();
  return chars.length ? `${chars.join('')}…` : '';
}

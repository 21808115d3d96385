// A small XML reader, enough for Pascal VOC annotation files: elements, attributes (kept but
// unused), text, comments, CDATA, processing instructions and the five predefined entities plus
// numeric character references. No DTDs, no namespaces. Malformed input throws XmlError with
// the line where reading stopped.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Concatenated text directly inside this element, trimmed. */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string, readonly line: number) {
    super(`${message} (line ${line})`);
    this.name = 'XmlError';
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Replaces entity and character references in text; throws on a malformed one. */
export function decodeEntities(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) throw new Error('bare "&" in text (write &amp;)');
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code >= 0 && code <= 0x10ffff)) throw new Error(`bad character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const value = ENTITIES[ref];
    if (value === undefined) throw new Error(`unknown entity ${whole}`);
    return value;
  });
}

export function parseXml(source: string): XmlElement {
  let pos = 0;
  const lineAt = (p: number): number => {
    let line = 1;
    for (let i = 0; i < p && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
    return line;
  };
  const fail = (message: string, at = pos): never => {
    throw new XmlError(message, lineAt(at));
  };
  const decode = (raw: string, at: number): string => {
    try {
      return decodeEntities(raw);
    } catch (err) {
      return fail((err as Error).message, at);
    }
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(source);
    if (!m) return fail('expected a tag or attribute name');
    pos += m[0].length;
    return m[0];
  };
  const skipSpace = (): void => {
    while (pos < source.length && /\s/.test(source.charAt(pos))) pos++;
  };
  const skipUntil = (end: string, what: string): void => {
    const at = source.indexOf(end, pos);
    if (at < 0) fail(`unterminated ${what}`);
    pos = at + end.length;
  };
  // Skips prolog/epilog material: whitespace, comments, processing instructions, doctype.
  const skipMisc = (): void => {
    for (;;) {
      skipSpace();
      if (source.startsWith('<?', pos)) skipUntil('?>', 'processing instruction');
      else if (source.startsWith('<!--', pos)) skipUntil('-->', 'comment');
      else if (source.startsWith('<!DOCTYPE', pos)) skipUntil('>', 'doctype');
      else return;
    }
  };

  const readElement = (): XmlElement => {
    if (source[pos] !== '<') fail('expected "<"');
    pos++;
    const name = readName();
    const element: XmlElement = { name, attributes: {}, children: [], text: '' };
    for (;;) {
      skipSpace();
      if (source.startsWith('/>', pos)) {
        pos += 2;
        return element;
      }
      if (source[pos] === '>') {
        pos++;
        break;
      }
      if (pos >= source.length) fail(`unterminated start tag <${name}>`);
      const attr = readName();
      skipSpace();
      if (source[pos] !== '=') fail(`attribute ${attr} of <${name}> has no value`);
      pos++;
      skipSpace();
      const quote = source.charAt(pos);
      if (quote !== '"' && quote !== "'") fail(`attribute ${attr} of <${name}> is not quoted`);
      const end = source.indexOf(quote, pos + 1);
      if (end < 0) fail(`unterminated attribute ${attr} of <${name}>`);
      element.attributes[attr] = decode(source.slice(pos + 1, end), pos);
      pos = end + 1;
    }
    let text = '';
    for (;;) {
      if (pos >= source.length) fail(`element <${name}> is never closed`);
      if (source.startsWith('</', pos)) {
        const at = pos;
        pos += 2;
        const closing = readName();
        skipSpace();
        if (source[pos] !== '>') fail(`bad closing tag </${closing}`);
        pos++;
        if (closing !== name) fail(`closing tag </${closing}> does not match <${name}>`, at);
        element.text = text.trim();
        return element;
      }
      if (source.startsWith('<!--', pos)) skipUntil('-->', 'comment');
      else if (source.startsWith('<![CDATA[', pos)) {
        const end = source.indexOf(']]>', pos);
        if (end < 0) fail('unterminated CDATA section');
        text += source.slice(pos + 9, end);
        pos = end + 3;
      } else if (source.startsWith('<?', pos)) skipUntil('?>', 'processing instruction');
      else if (source[pos] === '<') element.children.push(readElement());
      else {
        const next = source.indexOf('<', pos);
        const end = next < 0 ? source.length : next;
        text += decode(source.slice(pos, end), pos);
        pos = end;
      }
    }
  };

  if (source.charCodeAt(0) === 0xfeff) pos = 1; // byte-order mark
  skipMisc();
  if (pos >= source.length) fail('no root element');
  const root = readElement();
  skipMisc();
  if (pos < source.length) fail('content after the root element');
  return root;
}

/** The first child element with this name, or undefined. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

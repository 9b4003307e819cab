import { TextDecoder } from 'node:util';

/**
 * DICOM text decoding by Specific Character Set (0008,0005), PS3.5 section 6.1 and annex H-J,
 * including code extensions (ISO 2022 escape sequences, as Japanese and Korean files use). dcmjs
 * decodes one character set only and refuses several, so the parser has it read every string
 * byte for byte (see parse.ts) and decodes them here.
 */
const decoders = new Map<string, TextDecoder>();
const decoder = (label: string) => {
  let found = decoders.get(label);
  if (!found) decoders.set(label, (found = new TextDecoder(label)));
  return found;
};

/** True ISO 8859-1 (WHATWG's "latin1" label is windows-1252). */
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/** Single-byte character sets: their defined term (without the `ISO_IR`/`ISO 2022 IR` prefix) and decoder. */
const singleByte: Record<string, (bytes: Uint8Array) => string> = {
  '6': latin1,
  '100': latin1,
  '101': (b) => decoder('iso-8859-2').decode(b),
  '109': (b) => decoder('iso-8859-3').decode(b),
  '110': (b) => decoder('iso-8859-4').decode(b),
  '144': (b) => decoder('iso-8859-5').decode(b),
  '127': (b) => decoder('iso-8859-6').decode(b),
  '126': (b) => decoder('iso-8859-7').decode(b),
  '138': (b) => decoder('iso-8859-8').decode(b),
  '148': (b) => decoder('iso-8859-9').decode(b),
  '203': (b) => decoder('iso-8859-15').decode(b),
  '166': (b) => decoder('windows-874').decode(b),
  // JIS X 0201: romaji in G0, half-width katakana in G1; Shift JIS decodes both alike.
  '13': (b) => decoder('shift_jis').decode(b),
};

/** What a G0 or G1 designation decodes with. */
type CodeElement = { kind: 'single'; decode: (bytes: Uint8Array) => string } | { kind: 'double'; label: string; prefix?: number };

const ascii: CodeElement = { kind: 'single', decode: latin1 };
const escapes: Record<string, { g: 0 | 1; element: CodeElement }> = {
  '(B': { g: 0, element: ascii },
  '(J': { g: 0, element: ascii }, // JIS X 0201 romaji
  ')I': { g: 1, element: { kind: 'single', decode: singleByte['13']! } },
  $B: { g: 0, element: { kind: 'double', label: 'euc-jp' } }, // JIS X 0208
  '$@': { g: 0, element: { kind: 'double', label: 'euc-jp' } },
  '$(D': { g: 0, element: { kind: 'double', label: 'euc-jp', prefix: 0x8f } }, // JIS X 0212
  '$)C': { g: 1, element: { kind: 'double', label: 'euc-kr' } }, // KS X 1001
  '$)A': { g: 1, element: { kind: 'double', label: 'gb18030' } }, // GB 2312
  '-A': { g: 1, element: { kind: 'single', decode: latin1 } },
  '-B': { g: 1, element: { kind: 'single', decode: singleByte['101']! } },
  '-C': { g: 1, element: { kind: 'single', decode: singleByte['109']! } },
  '-D': { g: 1, element: { kind: 'single', decode: singleByte['110']! } },
  '-L': { g: 1, element: { kind: 'single', decode: singleByte['144']! } },
  '-G': { g: 1, element: { kind: 'single', decode: singleByte['127']! } },
  '-F': { g: 1, element: { kind: 'single', decode: singleByte['126']! } },
  '-H': { g: 1, element: { kind: 'single', decode: singleByte['138']! } },
  '-M': { g: 1, element: { kind: 'single', decode: singleByte['148']! } },
  '-T': { g: 1, element: { kind: 'single', decode: singleByte['166']! } },
};

/** The G1 element a first (default) character set designates without escape sequence. */
function initialG1(term: string): CodeElement {
  const number = /^ISO(?:_IR| 2022 IR) (\d+)$/.exec(term)?.[1];
  if (number === '149') return escapes['$)C']!.element;
  if (number === '58') return escapes['$)A']!.element;
  const single = number ? singleByte[number] : undefined;
  return single ? { kind: 'single', decode: single } : ascii;
}

/**
 * Decodes the bytes of one value. `charsets` are the values of Specific Character Set, as in
 * the file (`["", "ISO 2022 IR 87"]`); `delimiters` are the characters after which ISO 2022
 * returns to the initial code elements (`^` and `=` in person names; CR, LF, TAB, FF always).
 */
export function decodeDicomText(bytes: Uint8Array, charsets: readonly string[], isPersonName = false): string {
  const first = (charsets[0] ?? '').trim();
  if (!charsets.some((term) => term.trim().startsWith('ISO 2022'))) {
    if (first === 'ISO_IR 192') return decoder('utf-8').decode(bytes);
    if (first === 'GB18030' || first === 'GBK') return decoder('gb18030').decode(bytes);
    const number = /^ISO_IR (\d+)$/.exec(first)?.[1];
    return (number ? singleByte[number] : undefined)?.(bytes) ?? latin1(bytes);
  }
  return decodeIso2022(bytes, initialG1(first), isPersonName);
}

function decodeIso2022(bytes: Uint8Array, defaultG1: CodeElement, isPersonName: boolean): string {
  let g0: CodeElement = ascii;
  let g1: CodeElement = defaultG1;
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const byte = bytes[i]!;
    if (byte === 0x1b) {
      const sequence = [3, 2].map((n) => String.fromCharCode(...bytes.subarray(i + 1, i + 1 + n))).find((s) => s in escapes);
      if (sequence) {
        const { g, element } = escapes[sequence]!;
        if (g === 0) g0 = element;
        else g1 = element;
        i += 1 + sequence.length;
        continue;
      }
    }
    const high = byte >= 0x80;
    const element = high ? g1 : g0;
    if (element.kind === 'double' && i + 1 < bytes.length && bytes[i + 1] !== 0x1b) {
      // 7-bit (G0) pairs are shifted to the 8-bit form that EUC decoders read.
      const pair = [byte | 0x80, bytes[i + 1]! | 0x80];
      out += decoder(element.label).decode(Uint8Array.from(element.prefix ? [element.prefix, ...pair] : pair));
      i += 2;
      continue;
    }
    out += element.kind === 'single' ? element.decode(bytes.subarray(i, i + 1)) : latin1(bytes.subarray(i, i + 1));
    i += 1;
    const char = String.fromCharCode(byte);
    if ('\r\n\t\f'.includes(char) || (isPersonName && (char === '^' || char === '='))) {
      g0 = ascii;
      g1 = defaultG1;
    }
  }
  return out;
}

/** windows-1252's characters for 0x80-0x9F, back to their bytes. */
const cp1252Bytes = new Map<number, number>(
  [...decoder('windows-1252').decode(Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i))].map((char, i) => [
    char.codePointAt(0)!,
    0x80 + i,
  ]),
);

/** The bytes dcmjs read, from the string its windows-1252 decoder made of them. */
export function bytesOfWindows1252(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    bytes[i] = code < 0x80 || (code >= 0xa0 && code < 0x100) ? code : (cp1252Bytes.get(code) ?? 0x3f);
  }
  return bytes;
}

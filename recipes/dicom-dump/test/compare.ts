/** One element of a dump, flattened: its depth in sequences, tag, VR, keyword and value as shown. */
export interface DumpedElement {
  depth: number;
  tag: string;
  vr: string;
  keyword: string;
  value: string;
}

/** The recipe's text dump, flattened (item separators and headers left out). */
export function parseRecipeDump(text: string): DumpedElement[] {
  const elements: DumpedElement[] = [];
  for (const line of text.split('\n')) {
    const match = /^( *)\(([0-9A-F]{4},[0-9A-F]{4})\) (\S+) +(\w\w): (.*)$/.exec(line);
    if (match) elements.push({ depth: match[1]!.length / 3, tag: match[2]!, keyword: match[3]!, vr: match[4]!, value: match[5]! });
  }
  return elements;
}

const multiValuedStrings = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'PN', 'SH', 'TM', 'UC', 'UI']);
const strings = new Set([...multiValuedStrings, 'LT', 'ST', 'UT', 'UR']);
const numbers = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV']);

const quote = (text: string) => {
  const cut = text.length > 128 ? `${text.slice(0, 128)}… (${text.length} characters)` : text;
  return `'${cut.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
};
const list = (values: string[]) => (values.length === 1 ? values[0]! : `[${values.join(', ')}]`);

/**
 * dcmtk's `dcmdump -q +U8 +L -Un` output, flattened, each value written as the recipe must show
 * it: the reference the recipe's dump is compared with.
 */
export function expectedFromDcmdump(text: string): DumpedElement[] {
  const elements: DumpedElement[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const match = /^( *)\(([0-9a-f]{4},[0-9a-f]{4})\) (\w\w|\?\?) (.*?) *# *(\S+), (\d+) (.+)$/.exec(lines[i]!);
    if (!match || match[2]!.startsWith('fffe')) continue;
    const [, indent, tag, vr, raw, length, , keyword] = match as unknown as string[];
    const depth = indent!.length / 4;
    let value: string;
    if (vr === 'SQ') value = `${/#=(\d+)/.exec(raw!)![1]} item(s) ----`;
    else if (raw!.startsWith('(PixelSequence')) {
      // The items that follow: the basic offset table, then one fragment a frame.
      const fragments: number[] = [];
      for (let j = i + 1; j < lines.length && /^ +\(fffe,e000\) pi /.test(lines[j]!); j += 1)
        fragments.push(Number(/# *(\d+),/.exec(lines[j]!)![1]));
      value = `Encapsulated: ${fragments.length - 1} frame(s), ${fragments.slice(1).reduce((a, b) => a + b, 0)} bytes`;
    } else if (raw === '(no value available)') value = strings.has(vr!) ? "''" : 'None';
    else if (strings.has(vr!)) {
      const text = raw!.replace(/^\[/, '').replace(/\]$/, '');
      const values = (multiValuedStrings.has(vr!) ? text.split('\\') : [text]).map((v) => v.replace(/[ \0]+$/, ''));
      value = list(vr === 'UI' ? values : values.map(quote));
    } else if (numbers.has(vr!)) value = list(raw!.split('\\'));
    else if (vr === 'AT') value = list(raw!.split('\\').map((t) => t.toUpperCase()));
    else if (Number(length) <= 16 && /^[0-9a-f]{2}(\\[0-9a-f]{2})*$/.test(raw!))
      value = `b'${raw!
        .split('\\')
        .map((b) => `\\x${b}`)
        .join('')}'`;
    else value = `Array of ${length} bytes`;
    elements.push({ depth, tag: tag!.toUpperCase(), vr: vr!, keyword: keyword!.trim(), value });
  }
  return elements;
}

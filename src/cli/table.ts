// Plain aligned columns for terminal tables. Width is measured before painting, so colored cells
// line up the same as plain ones.

export interface Cell {
  text: string;
  paint?: (text: string) => string;
}

export function table(header: string[], rows: (string | Cell)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? { text: c } : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.text.length ?? 0)));
  const line = (r: Cell[]): string =>
    r
      .map((c, i) => {
        const pad = i === r.length - 1 ? '' : ' '.repeat(widths[i]! - c.text.length);
        return (c.paint ? c.paint(c.text) : c.text) + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(header.map((text) => ({ text }))), ...cells.map(line)].join('\n');
}

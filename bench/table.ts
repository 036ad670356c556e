// Plain-text table with aligned columns (numbers right-aligned).
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const cols = Math.max(...all.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => s === '-' || /^[-+]?[\d.]+(e[-+]?\d+)?( \(\d+\))?$/i.test(s);
  const line = (r: readonly string[]) => widths.map((w, i) => {
    const cell = r[i] ?? '';
    return numeric(cell) ? cell.padStart(w) : cell.padEnd(w);
  }).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

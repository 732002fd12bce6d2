// Plain column output as systemctl prints it: a header unless --no-legend, columns padded to the
// widest cell, the last column unpadded.
export function formatTable(header: string[], rows: string[][], legend: boolean): string {
  const all = legend ? [header, ...rows] : rows;
  const widths = header.map((_, i) => all.reduce((m, r) => Math.max(m, (r[i] ?? "").length), 0));
  return all
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

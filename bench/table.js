// Formatting of bench results: figures with their spread, and the comparison table (plain text
// for terminals and pipes, Markdown for docs/benchmarks.md).

const kHeader = ['case', 'what', 'shmframe', 'alternative', 'ratio', 'target', 'met'];

function scaled(value, unit) {
  if (unit === 'ms') {
    const abs = Math.abs(value);
    if (abs < 1e-3) return [value * 1e6, 'ns'];
    if (abs < 1) return [value * 1e3, 'µs'];
    if (abs < 1000) return [value, 'ms'];
    return [value / 1000, 's'];
  }
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return [v, units[i]];
  }
  if (unit.endsWith('/s') && !unit.startsWith('GB') && !unit.startsWith('MB')) {
    const abs = Math.abs(value);
    if (abs >= 1e9) return [value / 1e9, `G ${unit}`];
    if (abs >= 1e6) return [value / 1e6, `M ${unit}`];
    if (abs >= 1e4) return [value / 1e3, `k ${unit}`];
  }
  return [value, unit];
}

function digits(v) {
  const abs = Math.abs(v);
  if (abs === 0) return '0';
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** "312 ms ±3%": the median, scaled, with half the min-max range as a percentage. */
export function formatValue(stat, unit) {
  if (stat === null || stat === undefined) return '-';
  const [v, u] = scaled(stat.median, unit);
  const sep = u === '%' ? '' : ' ';
  let text = `${digits(v)}${sep}${u}`;
  if (stat.n > 1 && stat.median !== 0) {
    const spread = ((stat.max - stat.min) / 2 / Math.abs(stat.median)) * 100;
    text += ` ±${spread < 10 ? spread.toFixed(1) : spread.toFixed(0)}%`;
  }
  return text;
}

function formatRatio(r) {
  if (r === null || r === undefined) return '-';
  if (r >= 100) return `${Math.round(r).toLocaleString('en-US')}x`;
  if (r >= 10) return `${r.toFixed(1)}x`;
  return `${r.toFixed(2)}x`;
}

function cells(result) {
  if (result.error && result.rows.length === 0) {
    return [[result.case, `ERROR: ${result.error.message.split('\n')[0]}`, '', '', '', '', '']];
  }
  return result.rows.map((row) => {
    const alt = row.alternative;
    let altText = '-';
    if (alt) {
      altText = alt.error
        ? `${alt.name}: ${alt.error}`
        : `${alt.name}: ${formatValue(alt.stat, alt.unit ?? row.unit)}`;
    }
    return [
      result.case,
      row.what,
      formatValue(row.shmframe, row.unit),
      altText,
      formatRatio(row.ratio),
      row.target?.text ?? '-',
      row.met === null || row.met === undefined ? '-' : row.met ? 'met' : 'MISSED',
    ];
  });
}

function footer(results) {
  const lines = [];
  for (const r of results) {
    for (const s of r.skipped ?? []) lines.push(`${r.case}: ${s}`);
    if (r.error) lines.push(`${r.case}: ERROR ${r.error.message.split('\n')[0]}`);
    for (const n of r.notes ?? []) lines.push(`${r.case}: ${n}`);
  }
  return lines;
}

/** The plain-text table of one or more case results (as written by runCase). */
export function formatTable(results) {
  const rows = [kHeader, ...results.flatMap(cells)];
  const widths = kHeader.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) =>
    r
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  const notes = footer(results);
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n');
}

/** The same table in Markdown (for docs/benchmarks.md). */
export function formatMarkdown(results) {
  const esc = (c) => String(c).replaceAll('|', '\\|');
  const out = [
    `| ${kHeader.join(' | ')} |`,
    `|${kHeader.map(() => '---').join('|')}|`,
    ...results.flatMap(cells).map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  const notes = footer(results);
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}

// Task functions of example 001: they run in the Pool's worker threads. The frame arrives
// attached (by handle, not copied); every write goes to the memory the parent reads.

/** Fills the missing d2 values in place (d2 = d1 * 1.5) and notes it in the fixed-width `tag`. */
export function fillMissing({ df }) {
  let filled = 0;
  for (let i = 0; i < df.length; i++) {
    if (df.isNull(i, 'd2')) {
      df.set(i, 'd2', df.get(i, 'd1') * 1.5); // sets the value and its validity bit
      df.set(i, 'tag', 'filled'); // |S12: a string written in place
      filled++;
    }
  }
  return filled;
}

/** Appends `n` rows with new strings, new category labels and some nulls; returns the first row. */
export function appendRows({ df, batch, n }, ctx) {
  const rows = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      w1: `obstacle-${batch}-${i}`, // utf8: any length
      w2: i % 2 === 0 ? 'obstacle' : `kind-${batch}`, // category: labels added as needed
      d1: batch * 100 + i,
      d2: i % 3 === 0 ? null : i / 4, // a null every third row
      tag: `w${ctx.workerId}`, // which worker wrote it
    });
  }
  return df.append(rows); // safe from any number of threads at once
}

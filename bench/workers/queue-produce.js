// The producer side of bench/queue-variants.js, for a worker thread or a child process: on
// { kind, n } puts the numbers 0..n-1 into the SharedQueue (put, putAsync, or putMany in batches
// of 256) or sends them with `send` (kind 'copy'), then sends 'done'. Returns false for a kind it
// does not know.
export async function produce(q, { kind, n }, send) {
  if (kind === 'queue') {
    for (let i = 0; i < n; i++) q.put(i);
  } else if (kind === 'queue-batch') {
    const batch = new Array(256);
    for (let i = 0; i < n; i += 256) {
      const m = Math.min(256, n - i);
      batch.length = m;
      for (let k = 0; k < m; k++) batch[k] = i + k;
      q.putMany(batch);
    }
  } else if (kind === 'queue-async') {
    for (let i = 0; i < n; i++) await q.putAsync(i);
  } else if (kind === 'copy') {
    for (let i = 0; i < n; i++) send(i);
  } else {
    return false;
  }
  send('done');
  return true;
}

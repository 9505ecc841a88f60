// The variants the two queue-throughput cases time (bench/cases/queue-throughput.js between two
// threads, bench/cases/process-queue.js between two processes): the numbers 0..n-1 from a
// producer to this thread through a SharedQueue, one per call or in batches of 256, and through
// the transport's own messages (a MessagePort, or process.send). Every run checks that all n
// items arrived, in order. The producer side is bench/workers/queue-produce.js.

/**
 * `channel`: `{ send(message), on(listener) }` to the producer. Returns the variants by name
 * (each an async function running one transfer of n items) and `copy`, the transport's own.
 */
export function queueVariants(q, n, channel) {
  let onMessage = () => {};
  channel.on((m) => onMessage(m));
  const finished = () => new Promise((resolve) => (onMessage = (m) => m === 'done' && resolve()));
  const check = (got, expected, what) => {
    if (got !== expected) throw new Error(`${what}: received ${got}, expected ${expected}`);
  };
  const viaQueue = (kind, consume) => async () => {
    const done = finished();
    channel.send({ kind, n });
    await consume();
    await done;
  };
  return {
    // Blocking get on this thread (as a worker consumer would).
    sync: viaQueue('queue', () => {
      for (let i = 0; i < n; i++) check(q.get(), i, 'SharedQueue.get');
    }),
    getAsync: viaQueue('queue', async () => {
      for (let i = 0; i < n; i++) check(await q.getAsync(), i, 'SharedQueue.getAsync');
    }),
    forAwait: viaQueue('queue', async () => {
      let i = 0;
      for await (const x of q) {
        check(x, i, 'for await');
        if (++i === n) break;
      }
    }),
    batch: viaQueue('queue-batch', () => {
      for (let i = 0; i < n;) for (const x of q.getMany(256)) check(x, i++, 'getMany');
    }),
    batchAsync: viaQueue('queue-batch', async () => {
      for (let i = 0; i < n;)
        for (const x of await q.getManyAsync(256)) check(x, i++, 'getManyAsync');
    }),
    putAsync: viaQueue('queue-async', async () => {
      for (let i = 0; i < n; i++) check(await q.getAsync(), i, 'putAsync -> getAsync');
    }),
    /** The same numbers as the transport's own messages. */
    copy: () =>
      new Promise((resolve, reject) => {
        let next = 0;
        onMessage = (m) => {
          if (m === 'done') {
            if (next === n) resolve();
            else reject(new Error(`copy: ${next} of ${n}`));
          } else if (m !== next++) reject(new Error(`copy: got ${m}, expected ${next - 1}`));
        };
        channel.send({ kind: 'copy', n });
      }),
  };
}

// Child process producer for bench/cases/process-queue.js: attaches the SharedQueue by its string
// handle (argv[2]); on { kind, n } over IPC puts the numbers 0..n-1 (put, putAsync, or putMany in
// batches of 256) or sends them with process.send, then sends 'done'.
import { SharedQueue } from 'shmframe';

const q = SharedQueue.attach(process.argv[2]);
process.on('message', async ({ kind, n }) => {
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
  } else if (kind === 'send') {
    for (let i = 0; i < n; i++) process.send(i);
  } else if (kind === 'exit') {
    q.detach();
    process.exit(0);
  }
  process.send('done');
});
process.send('ready');

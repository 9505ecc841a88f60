// Runs worker code (an ES module source string or a fixture file) and talks to it by messages.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';

/**
 * Starts a worker from ES module source text. Bare specifiers resolve from the working directory
 * (the package root under `npm test`), so `import ... from 'shmframe'` is this built package.
 */
export function startWorker(source, options = {}) {
  return new Worker(source, { eval: true, type: 'module', ...options });
}

/** Posts `message` and waits for the next reply (rejects if the worker errors or exits first). */
export async function request(worker, message, transfer) {
  const reply = once(worker, 'message');
  const failure = once(worker, 'error').then(([e]) => Promise.reject(e));
  const exit = once(worker, 'exit').then(([code]) =>
    Promise.reject(new Error(`worker exited with ${code}`)),
  );
  worker.postMessage(message, transfer);
  const [value] = await Promise.race([reply, failure, exit]);
  return value;
}

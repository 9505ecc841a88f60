// Runs worker code (an ES module source string or a fixture file) and talks to it by messages.
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker from ES module source text. Bare specifiers resolve from the working directory
 * (the package root under `npm test`), so `import ... from 'shmframe'` is this built package.
 */
export function startWorker(source, options = {}) {
  return new Worker(source, { eval: true, type: 'module', ...options });
}

/** Posts `message` and waits for the next reply (rejects if the worker errors or exits first). */
export function request(worker, message, transfer) {
  return new Promise((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (value) => {
      done();
      resolve(value);
    };
    const onError = (err) => {
      done();
      reject(err);
    };
    const onExit = (code) => {
      done();
      reject(new Error(`worker exited with ${code} before replying`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(message, transfer);
  });
}

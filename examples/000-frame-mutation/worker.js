// The other thread of example 000: attaches frames by handle and edits them in place.
import { parentPort } from 'node:worker_threads';
import { SharedFrame } from 'shmframe';

const frames = new Map();

parentPort.on('message', ({ op, name, handle, column, by, row }) => {
  if (handle !== undefined) frames.set(name, SharedFrame.attach(handle)); // no copy
  const f = frames.get(name);
  switch (op) {
    case 'scale': {
      const x = f.col(column); // a Float64Array over the shared memory
      for (let i = 0; i < x.length; i++) x[i] *= by;
      return parentPort.postMessage('ok');
    }
    case 'edit': {
      const id = f.col('id');
      const price = f.col('price');
      const listed = f.col('listed'); // BigInt64Array: days since 1970, as numpy stores them
      const active = f.col('active'); // Uint8Array: 0 or 1, as numpy stores booleans
      for (let i = 0; i < f.length; i++) {
        id[i] += 100;
        price[i] *= 2;
        f.set(i, 'ticker', `${f.get(i, 'ticker')}.X`); // |S8: written in place
        if (!f.isNull(i, 'listed')) listed[i] += 1n;
        active[i] ^= 1;
      }
      f.set(3, 'price', 7.75); // fills a null: the validity bit is set again
      return parentPort.postMessage('ok');
    }
    case 'get':
      return parentPort.postMessage(f.get(row, column));
    case 'show':
      return parentPort.postMessage(f.toString());
    case 'exit':
      for (const g of frames.values()) g.close();
      parentPort.postMessage('bye');
      return parentPort.close(); // the worker exits once its port is closed
  }
});

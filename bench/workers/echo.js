// Worker for the hand-off cases: receives one message, touches one element, replies.
//   { k: 'empty' }                      -> 0
//   { k: 'handle', h }                  -> attach the SharedArray, read element 0, close
//   { k: 'clone', a: Float64Array }     -> read element 0 of the (cloned) array
//   { k: 'transfer', b: ArrayBuffer }   -> read element 0, transfer the buffer back
import { parentPort } from 'node:worker_threads';
import { SharedArray } from 'shmframe';

parentPort.on('message', (m) => {
  switch (m.k) {
    case 'empty':
      parentPort.postMessage(0);
      break;
    case 'handle': {
      const a = SharedArray.attach(m.h);
      const v = a.data[0];
      a.close();
      parentPort.postMessage(v);
      break;
    }
    case 'clone':
      parentPort.postMessage(m.a[0]);
      break;
    case 'transfer':
      parentPort.postMessage({ v: new Float64Array(m.b, 0, 1)[0], b: m.b }, [m.b]);
      break;
    default:
      throw new Error(`echo worker: unknown message ${JSON.stringify(m.k)}`);
  }
});

// Worker for the frame case: receives one message, does a little work, replies.
//   { k: 'sum', h, col }      -> attach the SharedFrame, sum column `col`, close
//   { k: 'peek', h }          -> attach, read row 0 of column 'x', close
//   { k: 'rows', rows }       -> (structured clone of row objects) sum of rows[i].x
//   { k: 'columns', columns } -> (structured clone of the columns) sum of columns.x
import { parentPort } from 'node:worker_threads';
import { SharedFrame } from 'shmframe';

function sum(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

parentPort.on('message', (m) => {
  switch (m.k) {
    case 'sum': {
      const f = SharedFrame.attach(m.h);
      const s = sum(f.col(m.col));
      f.close();
      parentPort.postMessage(s);
      break;
    }
    case 'peek': {
      const f = SharedFrame.attach(m.h);
      const v = f.get(0, 'x');
      f.close();
      parentPort.postMessage(v);
      break;
    }
    case 'rows': {
      let s = 0;
      for (const r of m.rows) s += r.x;
      parentPort.postMessage(s);
      break;
    }
    case 'columns':
      parentPort.postMessage(sum(m.columns.x));
      break;
    default:
      throw new Error(`frame worker: unknown message ${JSON.stringify(m.k)}`);
  }
});

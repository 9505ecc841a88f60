// Child process for the process hand-off cases (forked with serialization 'advanced'): receives
// one IPC message, touches one element, replies.
//   { k: 'empty' }                  -> 0
//   { k: 'handle', h: string }      -> attach the SharedArray by its string handle, read a[0],
//                                      reply with the string handle of the same array (its
//                                      reference moves back), close
//   { k: 'clone', a: Float64Array } -> read a[0], send the array back (copied by the IPC)
import { SharedArray } from 'shmframe';

process.on('message', (m) => {
  switch (m.k) {
    case 'empty':
      process.send(0);
      break;
    case 'handle': {
      const a = SharedArray.attach(m.h);
      const v = a.data[0];
      const back = String(a.handle);
      a.close();
      process.send({ v, h: back });
      break;
    }
    case 'clone':
      process.send({ v: m.a[0], a: m.a });
      break;
    case 'exit':
      process.exit(0);
      break;
    default:
      throw new Error(`process-echo: unknown message ${JSON.stringify(m.k)}`);
  }
});
process.send('ready');

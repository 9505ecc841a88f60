// Producer child process of bench/cases/process-queue.js (see queue-produce.js): attaches the
// SharedQueue by its string handle (argv[2]); 'exit' ends it.
import { SharedQueue } from 'shmframe';
import { produce } from './queue-produce.js';

const q = SharedQueue.attach(process.argv[2]);
process.on('message', async (m) => {
  if (await produce(q, m, (x) => process.send(x))) return;
  if (m.kind === 'exit') {
    q.detach();
    process.exit(0);
  }
});
process.send('ready');

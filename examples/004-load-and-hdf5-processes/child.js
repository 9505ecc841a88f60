// A child process of example 004-load-and-hdf5-processes: the seed's loadtxt_worker. Loads one
// text file into a frame in the parent's heap (inherited as fd 3) and leaves it under the file's
// stem ('data1'...). It may exit at once: the published frame lives on in the heap.
import { basename } from 'node:path';
import { Heap, readDelimited } from 'shmframe';

const [path, dtype] = process.argv.slice(2);
const heap = Heap.open({ fd: 3 });
const frame = await readDelimited(path, { schema: dtype, heap, workers: 0 });
heap.publish(basename(path, '.txt'), frame);
frame.close();

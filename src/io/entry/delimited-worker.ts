/**
 * The pool task module of `readDelimited` (a build entry of its own, resolved with
 * `new URL('../entry/delimited-worker.js', import.meta.url)`).
 */
// Registers the frame kind in the worker, so frames in task arguments attach.
import '../../frame/shared-frame.js';

export {
  scanRangeTask as scan,
  measureRangeTask as measure,
  parseRangeTask as parse,
} from '../delimited/tasks.js';

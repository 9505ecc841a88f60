/**
 * TaskQueue: the pool's FIFO of tasks waiting for a worker. A task cancelled while waiting is
 * not searched for: its state changes and the queue skips it when its turn comes (`forget`
 * keeps the count right), so cancelling is O(1) whatever the queue length.
 */
import { type Task, kDone, kQueued } from './task.js';

export class TaskQueue {
  #items: Array<Task | undefined> = [];
  #head = 0;
  #size = 0;

  /** Tasks waiting (cancelled ones excluded). */
  get size(): number {
    return this.#size;
  }

  push(task: Task): void {
    this.#items.push(task);
    this.#size++;
  }

  /** Puts tasks back at the front, in their order (tasks a dead or idle-needy worker gave back). */
  unshift(tasks: readonly Task[]): void {
    if (tasks.length === 0) return;
    this.#items.splice(this.#head, 0, ...tasks);
    this.#size += tasks.length;
  }

  /** A waiting task left the queue by other means (cancelled). */
  forget(): void {
    this.#size--;
  }

  /** The next waiting task, removed. */
  take(): Task | undefined {
    const items = this.#items;
    while (this.#head < items.length) {
      const t = items[this.#head];
      items[this.#head++] = undefined;
      if (t !== undefined && t.state === kQueued) {
        this.#size--;
        this.#compact();
        return t;
      }
    }
    this.#compact();
    return undefined;
  }

  /**
   * Removes and returns every waiting task, marked done before any is returned: failing one of
   * them may make its owner cancel the others, which must then find them already gone.
   */
  drain(): Task[] {
    const out: Task[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const t = this.#items[i];
      if (t !== undefined && t.state === kQueued) {
        t.state = kDone;
        out.push(t);
      }
    }
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
    return out;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

// A task module, for the type checks in pool.ts.
export function double(args: { x: number }): number {
  return args.x * 2;
}
export async function greet(name: string): Promise<string> {
  return `hello ${name}`;
}
export const notATask = 42;

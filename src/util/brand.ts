/**
 * Brands: `static isX(value)` checks use a `Symbol.for` brand rather than `instanceof`, which
 * fails across worker realms and across two copies of this module.
 */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}

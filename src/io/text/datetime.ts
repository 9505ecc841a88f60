/**
 * ISO-8601 text to datetime64 counts, straight from bytes. Accepted forms (numpy's):
 * `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, then optionally `T` or one space and `hh:mm`, `hh:mm:ss`,
 * `hh:mm:ss.f` (1 to 9 fraction digits), then optionally `Z` or an offset `+hh:mm`, `+hhmm`,
 * `+hh` (converted to UTC, as numpy did before it deprecated offsets). `NaT` (any case) is NaT.
 * Years may carry a sign and more than four digits (`-0044-03-15`, `+10000-01-01`).
 *
 * A value finer than the unit (`2020-01-01T10:00` for `M8[D]`, milliseconds for `M8[s]`) is
 * refused rather than truncated: no silent data loss.
 */
import type { DatetimeUnit } from '../../array/dtype.js';
import { kNaT } from '../../array/dtype.js';

/** Days from 1970-01-01 to the civil date (proleptic Gregorian), Howard Hinnant's algorithm. */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const kDaysIn = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, m: number): number {
  if (m === 2 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0)) return 29;
  return kDaysIn[m - 1] as number;
}

/** Why the last parse failed (for the error message). */
export let datetimeError = '';

const kScale: Record<DatetimeUnit, bigint> = {
  D: 0n,
  s: 1n,
  ms: 1000n,
  us: 1000000n,
  ns: 1000000000n,
};
const kFracPer: Record<DatetimeUnit, number> = { D: 0, s: 1e9, ms: 1e6, us: 1e3, ns: 1 };

function digits(buf: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = (buf[p + i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * The datetime64 count in `unit` of the ISO-8601 text in `buf[s, e)`, or undefined (with
 * {@link datetimeError} set) when it is not a valid datetime for that unit.
 */
export function parseDatetime(
  buf: Uint8Array,
  s: number,
  e: number,
  unit: DatetimeUnit,
): bigint | undefined {
  const n = e - s;
  if (
    n === 3 &&
    ((buf[s] as number) | 0x20) === 110 &&
    ((buf[s + 1] as number) | 0x20) === 97 &&
    ((buf[s + 2] as number) | 0x20) === 116
  )
    return kNaT;
  let p = s;
  let ysign = 1;
  if (buf[p] === 45 || buf[p] === 43) {
    ysign = buf[p] === 45 ? -1 : 1;
    p++;
  }
  let y = 0;
  let yd = 0;
  while (p < e && (buf[p] as number) >= 48 && (buf[p] as number) <= 57 && yd < 7) {
    y = y * 10 + (buf[p] as number) - 48;
    p++;
    yd++;
  }
  if (yd < 4) return fail('expected a year of 4 digits');
  y *= ysign;
  let m = 1;
  let d = 1;
  let hasDay = false;
  if (p < e && buf[p] === 45) {
    m = digits(buf, p + 1, 2);
    if (m < 1 || m > 12 || p + 3 > e) return fail('expected a month 01-12');
    p += 3;
    if (p < e && buf[p] === 45) {
      d = digits(buf, p + 1, 2);
      if (p + 3 > e || d < 1 || d > daysInMonth(y, m)) return fail('expected a valid day of month');
      p += 3;
      hasDay = true;
    }
  }
  let sod = 0; // seconds of day
  let frac = 0; // nanoseconds
  let offset = 0; // seconds east of UTC
  if (p < e && (buf[p] === 84 || buf[p] === 32 || buf[p] === 116)) {
    if (!hasDay) return fail('expected a full date (YYYY-MM-DD) before the time');
    p++;
    const hh = digits(buf, p, 2);
    if (hh < 0 || hh > 24 || p + 2 > e) return fail('expected an hour 00-23');
    p += 2;
    let mm = 0;
    let ss = 0;
    if (p < e && buf[p] === 58) {
      mm = digits(buf, p + 1, 2);
      if (mm < 0 || mm > 59 || p + 3 > e) return fail('expected minutes 00-59');
      p += 3;
      if (p < e && buf[p] === 58) {
        ss = digits(buf, p + 1, 2);
        if (ss < 0 || ss > 60 || p + 3 > e) return fail('expected seconds 00-59');
        p += 3;
        if (p < e && (buf[p] === 46 || buf[p] === 44)) {
          p++;
          let fd = 0;
          while (p < e && (buf[p] as number) >= 48 && (buf[p] as number) <= 57) {
            const dg = (buf[p] as number) - 48;
            if (fd < 9) frac = frac * 10 + dg;
            else if (dg !== 0) return fail('more than nanosecond precision');
            fd++;
            p++;
          }
          if (fd === 0) return fail('expected fraction digits after the decimal point');
          for (let i = fd; i < 9; i++) frac *= 10;
        }
      }
    }
    if (hh === 24 && (mm !== 0 || ss !== 0 || frac !== 0)) return fail('expected an hour 00-23');
    sod = hh * 3600 + mm * 60 + ss;
    if (p < e) {
      const c = buf[p];
      if (c === 90 || c === 122) {
        p++;
      } else if (c === 43 || c === 45) {
        const sign = c === 45 ? -1 : 1;
        const oh = digits(buf, p + 1, 2);
        if (oh < 0 || oh > 23 || p + 3 > e) return fail('expected a UTC offset like +02:00');
        p += 3;
        let om = 0;
        if (p < e && buf[p] === 58) {
          om = digits(buf, p + 1, 2);
          if (om < 0 || om > 59 || p + 3 > e) return fail('expected a UTC offset like +02:00');
          p += 3;
        } else if (p + 2 <= e && digits(buf, p, 2) >= 0) {
          om = digits(buf, p, 2);
          if (om > 59) return fail('expected a UTC offset like +02:00');
          p += 2;
        }
        offset = sign * (oh * 3600 + om * 60);
      }
    }
  }
  if (p !== e) return fail('unexpected text after the datetime');
  const days = daysFromCivil(y, m, d);
  const secs = days * 86400 + sod - offset;
  if (unit === 'D') {
    if (secs % 86400 !== 0 || frac !== 0) return fail('has a time of day, finer than M8[D]');
    return BigInt(secs / 86400);
  }
  const per = kFracPer[unit];
  if (frac % per !== 0) return fail(`is finer than M8[${unit}]`);
  const sub = frac / per;
  if (unit === 's') return BigInt(secs);
  if (unit === 'ms') {
    const v = secs * 1000 + sub;
    if (Number.isSafeInteger(v)) return BigInt(v);
  }
  return BigInt(secs) * kScale[unit] + BigInt(sub);
}

function fail(why: string): undefined {
  datetimeError = why;
  return undefined;
}

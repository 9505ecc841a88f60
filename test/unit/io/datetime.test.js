import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatetime, daysFromCivil, datetimeError } from '../../../dist/io/text/datetime.js';

const dt = (s, unit) => parseDatetime(Buffer.from(s), 0, Buffer.byteLength(s), unit);
const ms = (s) => BigInt(Date.parse(s));

test('ISO-8601 dates and times convert to every unit like numpy', () => {
  assert.equal(dt('1970-01-01', 'D'), 0n);
  assert.equal(dt('2024-02-29', 'D'), BigInt(daysFromCivil(2024, 2, 29)));
  assert.equal(dt('2024-02-29', 'D'), 19782n);
  assert.equal(dt('2021-03-04T05:06:07', 's'), ms('2021-03-04T05:06:07Z') / 1000n);
  assert.equal(dt('2021-03-04 05:06:07.123', 'ms'), ms('2021-03-04T05:06:07.123Z'));
  assert.equal(
    dt('2021-03-04T05:06:07.123456', 'us'),
    ms('2021-03-04T05:06:07.123Z') * 1000n + 456n,
  );
  assert.equal(
    dt('2021-03-04T05:06:07.123456789', 'ns'),
    ms('2021-03-04T05:06:07.123Z') * 1000000n + 456789n,
  );
  assert.equal(dt('1969-12-31T23:59:59', 's'), -1n);
  assert.equal(dt('2020-01', 'D'), BigInt(daysFromCivil(2020, 1, 1)));
  assert.equal(dt('2020', 'D'), BigInt(daysFromCivil(2020, 1, 1)));
  assert.equal(dt('2020-06-01T12:00', 'ms'), ms('2020-06-01T12:00:00Z'));
  assert.equal(dt('-0044-03-15', 'D'), BigInt(daysFromCivil(-44, 3, 15)));
});

test('UTC offsets are converted to UTC; Z is UTC; NaT is NaT', () => {
  assert.equal(dt('2021-03-04T05:06:07+02:00', 's'), ms('2021-03-04T03:06:07Z') / 1000n);
  assert.equal(dt('2021-03-04T05:06:07-0130', 's'), ms('2021-03-04T06:36:07Z') / 1000n);
  assert.equal(dt('2021-03-04T05:06:07Z', 's'), ms('2021-03-04T05:06:07Z') / 1000n);
  assert.equal(dt('NaT', 'ms'), -(2n ** 63n));
  assert.equal(dt('nat', 'D'), -(2n ** 63n));
});

test('values finer than the unit and malformed text are refused with a reason', () => {
  for (const [s, unit, why] of [
    ['2021-03-04T05:06', 'D', /time of day/],
    ['2021-03-04T05:06:07.5', 's', /finer than M8\[s\]/],
    ['2021-02-29', 'D', /valid day/],
    ['2021-13-01', 'D', /month/],
    ['2021-03-04T25:00', 's', /hour/],
    ['21-03-04', 'D', /year/],
    ['2021-03-04x', 'D', /unexpected text/],
    ['2021T10:00', 's', /full date/],
    ['2021-03-04T05:06:07.1234567891', 'ns', /nanosecond/],
  ]) {
    assert.equal(dt(s, unit), undefined, s);
    assert.match(datetimeError, why, s);
  }
});

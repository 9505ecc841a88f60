// Single-threaded delimited parsing over plain TypedArrays, for testing the engine without frames.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordParser } from '../../dist/io/text/engine.js';
import { readRange } from '../../dist/io/text/reader.js';
import { buildTargets } from '../../dist/io/text/targets.js';
import { resolveSchema } from '../../dist/io/schema-spec.js';
import { resolveDialect } from '../../dist/io/text/dialect.js';
import { readPrelude, fieldColumns } from '../../dist/io/text/prelude.js';
import { openRead, closeQuietly } from '../../dist/io/text/file.js';
import { ByteDict } from '../../dist/io/text/byte-dict.js';
import { S_LINE } from '../../dist/io/text/scan.js';

/** A temporary directory removed by the returned `cleanup()`. */
export function tempDir(prefix = 'shmframe-io-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function alloc(col, capacity, textBytes) {
  if (col.kind === 'utf8')
    return {
      data: new Int32Array(capacity + 1),
      bytes: new Uint8Array(textBytes + 1),
      bytesStart: 0,
      bytesEnd: textBytes,
    };
  if (col.kind === 'category') return { data: new Int32Array(capacity), dict: new ByteDict() };
  const dt = col.dt;
  return { data: new dt.ctor(dt.kind === 'S' ? capacity * dt.itemsize : capacity) };
}

/**
 * Parses `text` (a string or Buffer) with `schema` and `options` (readDelimited's options plus
 * `chunkBytes` and `name`); returns { rows: [...plain objects], parser, columns }.
 */
export function parseText(text, schema, options = {}) {
  const t = tempDir();
  try {
    const name = options.name ?? 'data.txt';
    const path = t.path(name);
    const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
    writeFileSync(path, bytes);
    const columns = resolveSchema(schema);
    const dialect = resolveDialect(options, name);
    const prelude = readPrelude(path, name, dialect, {
      header: options.header ?? false,
      skipRows: options.skipRows ?? 0,
    });
    const capacity = bytes.length + 2;
    const buffers = columns.map((c) => {
      const b = alloc(c, capacity, bytes.length);
      b.validity = new Uint8Array(Math.ceil(capacity / 8)).fill(0xff);
      return b;
    });
    const targets = buildTargets(
      columns,
      fieldColumns(
        columns.map((c) => c.name),
        prelude.header,
        name,
      ),
      buffers,
      dialect.nullValues,
    );
    for (const tg of targets) if (tg.kind === 14) tg.grow = true;
    const parser = new RecordParser(
      {
        file: name,
        delimiter: dialect.delimiter,
        quote: dialect.quote,
        comment: dialect.comment,
        nullValues: dialect.nullValues.map((v) => Buffer.from(v)),
        onBadLine: options.onBadLine ?? 'error',
        fields: targets,
      },
      0,
      capacity,
      prelude.line,
    );
    const fd = openRead(path);
    try {
      readRange(
        {
          fd,
          path,
          file: name,
          start: prelude.dataStart,
          end: prelude.size,
          size: prelude.size,
          state: S_LINE,
          quote: dialect.quote,
          comment: dialect.comment,
          chunkBytes: options.chunkBytes,
        },
        prelude.dataStart,
        parser,
      );
    } finally {
      closeQuietly(fd);
    }
    const rows = [];
    const dec = new TextDecoder();
    for (let r = 0; r < parser.rows; r++) {
      const row = {};
      columns.forEach((c, i) => {
        const b = buffers[i];
        if (((b.validity[r >> 3] >> (r & 7)) & 1) === 0) return void (row[c.name] = null);
        if (c.kind === 'utf8') row[c.name] = dec.decode(b.bytes.subarray(b.data[r], b.data[r + 1]));
        else if (c.kind === 'category') row[c.name] = b.dict.values()[b.data[r]];
        else if (c.dt.kind === 'S') {
          const w = c.dt.itemsize;
          let s = b.data.subarray(r * w, r * w + w);
          let e = w;
          while (e > 0 && s[e - 1] === 0) e--;
          row[c.name] = Buffer.from(s.subarray(0, e)).toString('latin1');
        } else if (c.dt.kind === 'b') row[c.name] = b.data[r] === 1;
        else row[c.name] = b.data[r];
      });
      rows.push(row);
    }
    return { rows, parser, columns, buffers };
  } finally {
    t.cleanup();
  }
}

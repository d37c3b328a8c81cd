import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDiagnostic } from '../../src/domain/errors.js';
import { MAX_BYTES, MAX_DEPTH, decodeFile, parseYaml } from '../../src/desire/yaml.js';
import { vrError } from './hosts.js';

const s = suite('desire/yaml');

const fails = (text: string) => vrError(() => parseYaml(text, 'state.yaml'));
const where = (text: string) => fails(text).diagnostics.map((d) => [d.line, d.col]);

s('a syntax error points at the line and column js-yaml found', () => {
  const e = fails('version: 1\ndevices:\n  - match: { vendor: "10de"\n');
  assert.is(e.kind, 'input');
  assert.is(e.diagnostics.length, 1);
  const d = e.diagnostics[0]!;
  assert.match(d.message, /^YAML syntax: /);
  assert.equal([d.file, d.line, d.col], ['state.yaml', 4, 1]);
});

s('bad indentation is reported where it happens', () => {
  const d = fails('version: 1\ndevices:\n  - driver: x\n     match: y\n').diagnostics[0]!;
  assert.match(d.message, /indentation|mapping/);
  assert.is(d.line, 4);
});

s('a duplicate key is an error naming the first occurrence', () => {
  const e = fails('version: 1\ndevices:\n  - driver: vfio-pci\n    match: {vendor: "10de"}\n    driver: nvidia\n');
  assert.is(e.diagnostics.length, 1);
  assert.is(e.diagnostics[0]!.message, "duplicate key 'driver' (first written at line 3)");
  assert.equal(where('version: 1\nversion: 1\n'), [[2, 1]]);
});

s('anchors and aliases are refused where they are written', () => {
  const e = fails('version: 1\nm: &gpu {vendor: "10de"}\nn: *gpu\n');
  assert.equal(e.diagnostics.map((d) => [d.line, d.col]), [[2, 4], [3, 4]]);
  assert.match(e.diagnostics[0]!.message, /anchors/);
  assert.match(e.diagnostics[1]!.message, /aliases/);
});

s('an alias bomb is refused without expanding anything', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const e = fails(lines.join('\n'));
  assert.ok(e.diagnostics.length > 9);
  assert.ok(e.diagnostics.every((d) => /anchors|aliases/.test(d.message)));
});

s('nesting deeper than the limit is refused', () => {
  const deep = 'a: ' + '['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1);
  const d = fails(deep).diagnostics[0]!;
  assert.match(d.message, new RegExp(`nested deeper than ${MAX_DEPTH} levels`));
  assert.is(d.line, 1);
  // Just below the limit parses.
  parseYaml('a: ' + '['.repeat(MAX_DEPTH - 2) + ']'.repeat(MAX_DEPTH - 2), 'state.yaml');
});

s('a file over 1 MiB is refused before parsing', () => {
  const big = 'version: 1\n#' + 'x'.repeat(MAX_BYTES) + '\n';
  assert.match(fails(big).diagnostics[0]!.message, /larger than 1024 KiB/);
  assert.match(vrError(() => decodeFile(new Uint8Array(MAX_BYTES + 1), 'big.yaml')).diagnostics[0]!.message, /larger/);
});

s('a NUL byte is refused at its position', () => {
  const e = fails('version: 1\ndevices:\0\n');
  assert.match(e.diagnostics[0]!.message, /NUL byte/);
  assert.equal(where('version: 1\ndevices:\0\n'), [[2, 9]]);
});

s('bytes that are not UTF-8 are refused as binary', () => {
  const e = vrError(() => decodeFile(new Uint8Array([0x76, 0x3a, 0xff, 0xfe, 0x00]), 'x.bin'));
  assert.match(e.diagnostics[0]!.message, /not UTF-8/);
  assert.is(decodeFile(new TextEncoder().encode('name: "Grafikkarte für VM"'), 'ok.yaml'), 'name: "Grafikkarte für VM"');
});

s('empty files, comment-only files and a bare --- are empty', () => {
  for (const text of ['', '\n\n', '# nothing yet\n', '---\n']) {
    assert.match(fails(text).diagnostics[0]!.message, /file is empty/, JSON.stringify(text));
  }
});

s('a second document is refused', () => {
  const e = fails('version: 1\n---\nversion: 1\n');
  assert.match(e.diagnostics[0]!.message, /more than one YAML document/);
  assert.is(e.diagnostics[0]!.line, 3);
});

s('the top level must be a mapping', () => {
  for (const text of ['- version: 1\n', 'version 1\n', '"just text"\n', '42\n']) {
    assert.match(fails(text).diagnostics[0]!.message, /top level must be a mapping/, text);
  }
});

s('positions are recorded for values and keys by JSON pointer', () => {
  const { nodes, value } = parseYaml('version: 1\ndevices:\n  - name: gpu\n    match:\n      vendor: "10de"\n', 'state.yaml');
  assert.equal(value, { version: 1, devices: [{ name: 'gpu', match: { vendor: '10de' } }] });
  assert.equal(nodes.get('/devices/0'), { line: 3, col: 5 });
  assert.equal(nodes.get('/devices/0/match/vendor'), { line: 5, col: 15, key: { line: 5, col: 7 } });
  assert.equal(nodes.get('/version'), { line: 1, col: 10, key: { line: 1, col: 1 }, source: '1' });
});

s('a key with no value is null and located at its key', () => {
  const { nodes, value } = parseYaml('version: 1\ndriver:\n', 'state.yaml');
  assert.is(value.driver, null);
  assert.equal(nodes.get('/driver'), { line: 2, col: 1, key: { line: 2, col: 1 } });
});

s('a byte-order mark does not shift columns', () => {
  const { nodes } = parseYaml('\ufeffversion: 1\n', 'state.yaml');
  assert.equal(nodes.get('/version')!.col, 10);
});

s('unquoted numbers keep the text written, quoted text stays text', () => {
  const { value, nodes } = parseYaml('a: 8086\nb: 0x10de\nc: 00e0\nd: "0300"\ne: true\nf: 01:00.0\n', 'state.yaml');
  assert.equal(value, { a: 8086, b: 4318, c: 0, d: '0300', e: true, f: '01:00.0' });
  assert.equal(['/a', '/b', '/c', '/d', '/e', '/f'].map((p) => nodes.get(p)!.source), ['8086', '0x10de', '00e0', undefined, 'true', undefined]);
});

s('a key named __proto__ stays plain data', () => {
  const { value } = parseYaml('__proto__: {polluted: true}\nversion: 1\n', 'state.yaml');
  assert.ok(Object.hasOwn(value, '__proto__'));
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  assert.is(Object.getPrototypeOf(value), Object.prototype);
});

s('!!str is accepted, other tags are refused', () => {
  assert.equal(parseYaml('vendor: !!str 8086\n', 'state.yaml').value, { vendor: '8086' });
  const d = fails('count: !!float 2\n').diagnostics[0]!;
  assert.match(d.message, /tag !!float is not supported/);
  assert.equal([d.line, d.col], [1, 8]);
});

s('keys that are collections are refused', () => {
  assert.match(fails('? [a, b]\n: 1\n').diagnostics[0]!.message, /keys must be plain names/);
});

s('messages print as file:line:col for editors', () => {
  assert.is(formatDiagnostic(fails('version: 1\nversion: 2\n').diagnostics[0]!), "state.yaml:2:1: duplicate key 'version' (first written at line 1)");
});

s.run();

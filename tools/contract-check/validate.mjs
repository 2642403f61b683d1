// Validates an AsyncAPI document with the official parser and exits non-zero on any error-level diagnostic.
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const path = process.argv[2] ?? new URL('../../docs/asyncapi.yaml', import.meta.url).pathname;
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, 'utf8'), { source: path });
const severities = ['error', 'warning', 'info', 'hint'];
for (const d of diagnostics) {
  console.log(`${severities[d.severity] ?? d.severity}: ${d.code} ${d.message} at ${d.path.join('.')}`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.error(`${path}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()} with ${document.channels().length} channels and ${document.operations().length} operations, ${diagnostics.length - errors.length} non-error diagnostics`);

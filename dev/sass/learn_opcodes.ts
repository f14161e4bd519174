/**
 * Learns sm_90 mnemonics for sass_static.ts from `cuobjdump -sass` listings (run where cuobjdump is, e.g. on the
 * GPU machine: `cuobjdump -sass build/Release/natten.node > x.sass`): each instruction line carries its first
 * 64-bit word, whose low 12 bits are the opcode. Merges into the table and fails on a key seen with two
 * mnemonics.
 *   node dist/dev/sass/learn_opcodes.js LISTING... [--table dev/sass/opcodes_sm90.json]
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { OpcodeTable } from './sm90_instr';

/** Opcode key -> mnemonic for every instruction line of a listing. */
export function learn(listing: string, into: OpcodeTable): OpcodeTable {
  const line = /\/\*[0-9a-f]{4,}\*\/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_]+)\S*[^;]*;\s*\/\* 0x([0-9a-f]{16}) \*\//;
  for (const text of listing.split('\n')) {
    const m = line.exec(text);
    if (!m) continue;
    const key = '0x' + (parseInt(m[2].slice(13), 16) & 0xfff).toString(16);
    const known = into[key];
    if (known !== undefined && known !== m[1]) throw new Error(`opcode ${key}: ${known} and ${m[1]}`);
    into[key] = m[1];
  }
  return into;
}

function main(): void {
  const program = new Command()
    .name('learn_opcodes')
    .argument('<listing...>', 'cuobjdump -sass outputs')
    .option('--table <file>', 'the table to merge into', path.resolve(__dirname, '../../../dev/sass/opcodes_sm90.json'))
    .parse();
  const { table } = program.opts<{ table: string }>();
  const into = fs.existsSync(table) ? (JSON.parse(fs.readFileSync(table, 'utf8')) as OpcodeTable) : {};
  const before = Object.keys(into).length;
  for (const f of program.args) learn(fs.readFileSync(f, 'utf8'), into);
  const keys = Object.keys(into).sort((a, b) => parseInt(a, 16) - parseInt(b, 16));
  fs.writeFileSync(table, '{\n' + keys.map((k) => `  "${k}": "${into[k]}"`).join(',\n') + '\n}\n');
  console.log(`${table}: ${keys.length} opcodes (${keys.length - before} new)`);
}

if (require.main === module) main();

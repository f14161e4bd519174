/**
 * Static schedule of the kernels in a cubin, on a machine without cuobjdump (the cubin comes from the local nvcc:
 * dev/sass/ws_cubin.sh builds one 'wgmma-ws' forward config). ptxas's stall counts are the cycles a warp alone
 * spends in straight-line code; a change's effect on them, on the instruction mix and on where waits sit can be
 * read here before any GPU run (a timing on the GPU still decides).
 *   node dist/dev/sass/sass_static.js CUBIN                  per kernel, its longest loops: instructions, stall
 *                                                            sum, the mnemonics by stall sum
 *   node dist/dev/sass/sass_static.js CUBIN --blocks         the longest loop as runs of one mnemonic
 *   node dist/dev/sass/sass_static.js CUBIN --list 7380 7ae0 one instruction per line (hex byte offsets)
 *   node dist/dev/sass/sass_static.js CUBIN --sum 7380 7ae0 8fa0 a590   stall sums of ranges (a path through
 *                                                            the branches) and their total
 *   node dist/dev/sass/sass_static.js CUBIN --turn           'wgmma-ws' consumers: the main loop from its head
 *                                                            to the turn barrier, and the turn held (issue)
 * --kernel REGEX picks kernels by mangled name (default: all); --opcodes FILE the mnemonic table.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { kernelTexts } from './cubin_text';
import { Instr, OpcodeTable, decode, histogram, loops, range, stallSum } from './sm90_instr';

const hex = (n: number) => n.toString(16).padStart(5, '0');

function mix(code: Instr[], top: number): string {
  return histogram(code)
    .slice(0, top)
    .map((e) => `${e.op}:${e.count}/${e.stall}`)
    .join(' ');
}

function report(code: Instr[]): void {
  for (const l of loops(code)
    .filter((l) => l.instructions >= 40)
    .slice(0, 6)) {
    const body = range(code, l.from, l.to);
    console.log(
      `  loop ${hex(l.from)}-${hex(l.to)}: ${l.instructions} instructions, stall sum ${stallSum(body)}; ${mix(body, 12)}`,
    );
  }
}

function blocks(code: Instr[]): void {
  const main = loops(code)[0];
  if (!main) return;
  let run: Instr[] = [];
  const flush = () => {
    if (run.length) console.log(`  ${hex(run[0].pc)} ${run[0].op} x${run.length} stall ${stallSum(run)}`);
    run = [];
  };
  for (const i of range(code, main.from, main.to)) {
    if (i.op === 'BRA') {
      flush();
      console.log(`  ${hex(i.pc)} BRA -> ${hex(i.target as number)} stall ${i.stall}`);
    } else {
      if (run.length && run[0].op !== i.op) flush();
      run.push(i);
    }
  }
  flush();
}

function list(code: Instr[], from: number, to: number): void {
  for (const i of range(code, from, to)) {
    const wait = i.waitMask ? ` wait ${i.waitMask.toString(2)}` : '';
    const sb = i.writeBarrier >= 0 ? ` sets ${i.writeBarrier}` : '';
    const br = i.target !== undefined ? ` -> ${hex(i.target)}` : '';
    console.log(`  ${hex(i.pc)} ${i.op.padEnd(10)} R${i.rd} R${i.ra} R${i.rb} stall ${i.stall}${sb}${wait}${br}`);
  }
}

function sums(code: Instr[], bounds: number[]): void {
  let total = 0;
  for (let k = 0; k + 1 < bounds.length; k += 2) {
    const part = range(code, bounds[k], bounds[k + 1]);
    total += stallSum(part);
    console.log(`  ${hex(bounds[k])}-${hex(bounds[k + 1])}: ${part.length} instructions, stall sum ${stallSum(part)}`);
  }
  console.log(`  total stall sum ${total}`);
}

/** The consumer main loop (the longest innermost loop with two BAR and a HGMMA) up to its first BAR (the turn),
 * and from there to the next BAR (the hand-over): the turn is held while the products issue. */
function turn(code: Instr[]): void {
  const barsOf = (body: Instr[]) => body.map((i, k) => (i.op === 'BAR' ? k : -1)).filter((k) => k >= 0);
  const main = loops(code).find((l) => {
    const body = range(code, l.from, l.to);
    return barsOf(body).length >= 2 && body.some((i) => i.op === 'HGMMA');
  });
  if (!main) {
    console.log('  no consumer loop (an innermost loop with two BAR and a HGMMA)');
    return;
  }
  const body = range(code, main.from, main.to);
  const bars = barsOf(body);
  console.log(
    `  consumer loop ${hex(main.from)}-${hex(main.to)}: ${body.length} instructions, stall sum ${stallSum(body)}`,
  );
  const head = body.slice(0, bars[0]);
  const held = body.slice(bars[0], bars[1] + 1);
  console.log(`  loop head to the turn: ${head.length} instructions, stall sum ${stallSum(head)}`);
  console.log(`  turn held: ${held.length} instructions, stall sum ${stallSum(held)}; ${mix(held, 8)}`);
}

function main(): void {
  const program = new Command()
    .name('sass_static')
    .argument('<cubin>', 'a cubin (nvcc -cubin)')
    .option('--kernel <regex>', 'kernels whose mangled name matches')
    .option('--opcodes <file>', 'mnemonic table', path.resolve(__dirname, '../../../dev/sass/opcodes_sm90.json'))
    .option('--blocks', 'the longest loop as runs of one mnemonic')
    .option('--list <from_to...>', 'instructions between two hex byte offsets')
    .option('--sum <bounds...>', 'stall sums of hex byte offset ranges FROM TO [FROM TO ...]')
    .option('--turn', "the 'wgmma-ws' consumer loop's head and held turn")
    .parse();
  const opts = program.opts<{
    kernel?: string;
    opcodes: string;
    blocks?: boolean;
    list?: string[];
    sum?: string[];
    turn?: boolean;
  }>();
  const table = JSON.parse(fs.readFileSync(opts.opcodes, 'utf8')) as OpcodeTable;
  const pick = opts.kernel ? new RegExp(opts.kernel) : undefined;
  const parseHex = (s: string) => {
    const n = parseInt(s, 16);
    if (!Number.isFinite(n)) throw new RangeError(`not a hex byte offset: ${s}`);
    return n;
  };
  for (const [name, text] of kernelTexts(fs.readFileSync(program.args[0]))) {
    if (pick && !pick.test(name)) continue;
    const code = decode(text, table);
    console.log(`${name}: ${code.length} instructions, stall sum ${stallSum(code)}`);
    if (opts.list) list(code, parseHex(opts.list[0]), parseHex(opts.list[1] ?? opts.list[0]));
    else if (opts.sum) sums(code, opts.sum.map(parseHex));
    else if (opts.blocks) blocks(code);
    else if (opts.turn) turn(code);
    else report(code);
  }
}

main();
